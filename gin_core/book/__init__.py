"""Helpers of the GIN teaching book, kept apart from the core package, one module per topic.

Each topic's computations and figures live together; a figure function draws what was computed
and returns the Matplotlib Figure.

* :mod:`gin_core.book.settings`: the book's settings, the one place where ``GIN_*`` environment
  variables are read (scale, data set, folders, timeouts);
* :mod:`gin_core.book.show`: figures and key numbers shown in a live chapter and glued for the book;
* artificial data (§4.3): :mod:`~gin_core.book.runs` (one run and its evaluation),
  :mod:`~gin_core.book.records` (the settings that key a run, the logged records, what they say),
  :mod:`~gin_core.book.restarts` (seed sweeps, restarts, the protocol), :mod:`~gin_core.book.recovery`
  (what a run recovered, and its figures), :mod:`~gin_core.book.baselines` (PCA and FastICA),
  :mod:`~gin_core.book.lessons` (the tables of the chapters on little data and on what matters),
  :mod:`~gin_core.book.sweeps` (the sweep runner), :mod:`~gin_core.book.benchmark` (the mixing benchmark);
* theory: :mod:`~gin_core.book.theory`, :mod:`~gin_core.book.predictions` and their figures,
  :mod:`~gin_core.book.theory_figures`;
* digits: :mod:`~gin_core.book.trained` (the network the chapters analyse, its loss curve and spectra),
  :mod:`~gin_core.book.atlas` (spectra, knees, variable sweeps and samples, with their figures),
  :mod:`~gin_core.book.conditions` and :mod:`~gin_core.book.conditions_figures` (more conditions
  than classes);
* :mod:`gin_core.book.scorecard`: the verdicts and their evidence.

These may import Matplotlib, scikit-learn and SymPy (when a function needs them); the core
(:mod:`gin_core`) does not.
"""
