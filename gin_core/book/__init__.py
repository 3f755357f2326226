"""Helpers of the GIN teaching book, kept apart from the core package.

* :mod:`gin_core.book.settings`: the book's settings, the one place where ``GIN_*`` environment
  variables are read (scale, data set, folders, timeouts);
* :mod:`gin_core.book.experiments`: runs, evaluations and seed sweeps of the artificial experiments;
* :mod:`gin_core.book.atlas`: PCA spectra, knee tables, variable sweeps and samples of the digits model;
* :mod:`gin_core.book.trained`: the digits network the chapters analyse (the reader's or the shipped one);
* :mod:`gin_core.book.theory`: the small computations of the theory chapter;
* :mod:`gin_core.book.show`: figures and key numbers shown in a live chapter and glued for the book;
* :mod:`gin_core.book.plots`: every figure.

These may import Matplotlib, scikit-learn and SymPy (when a function needs them); the core
(:mod:`gin_core`) does not.
"""
