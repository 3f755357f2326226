"""Shim, to be removed: the names that files being edited elsewhere still import from here.

The helpers of the artificial experiments moved by topic: a run and its evaluation to
:mod:`gin_core.book.runs`, the records and the settings that key them to :mod:`gin_core.book.records`,
seed sweeps and restarts to :mod:`gin_core.book.restarts`, the linear baselines to
:mod:`gin_core.book.baselines`, the figures and the marginal valleys to :mod:`gin_core.book.recovery`.
Import from those. This module only re-exports the names still imported from here by
``book/where_gin_breaks.ipynb`` (``run_artificial``), ``book/gin_vs_ivae.ipynb`` (``split_data``),
``bench/ivae_benchmark.py`` (``run_artificial``,
``split_data``) and ``tests/test_book_ivae.py`` (``split_data``); remove it once they import from
:mod:`gin_core.book.runs`.
"""

from .runs import run_artificial, split_data

__all__ = ["run_artificial", "split_data"]
