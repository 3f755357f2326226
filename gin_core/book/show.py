"""Show a chapter's figures and key numbers when it runs live, and glue them for the book.

A chapter glues every figure and number its text talks about (:func:`myst_nb.glue`), and the book
pastes them into the text (``{glue:figure}``, ``{glue:text}``). Glued with ``display=False`` they
are stored in the notebook under a key but shown nowhere, so a reader who runs the chapter in
Jupyter would see neither the figures nor the numbers. The two functions here glue *and* show, and
every chapter uses them instead of ``glue``:

* :func:`show_figure` glues a figure with ``display=True``: the figure becomes the cell's output,
  which Jupyter shows, and that same output carries the key that ``{glue:figure}`` pastes. The
  figure is then closed, so that Matplotlib's inline backend does not draw it a second time. The
  cell carries the ``remove-output`` tag: myst-nb collects the glued outputs of a notebook before it
  renders the cells, so the book still pastes the figure where ``{glue:figure}`` asks, and shows it
  nowhere else (book/CONVENTIONS.md, "Figures"; tests/test_book_show.py checks the tag).
* :func:`show_value` glues a number or a short text as before (``display=False``: the glued value
  is what ``{glue:text}`` formats) and prints one line ``<key> = <value>``. The key is the one the
  text names in ``{glue:text}`<key>```, which Jupyter shows as written, so a live reader finds each
  value under the cell that computed it. The line is ordinary output: the book shows it too, next
  to the cell's other printed lines.

Jupyter (JupyterLab, Notebook, Colab, VS Code) needs nothing else: the functions only print and
display. ``myst_nb`` (the ``book`` extra) is imported when a function is called.
"""

from __future__ import annotations

import ast
import re
from typing import Any

__all__ = ["show_figure", "show_value", "glued_text"]

#: a glue key: letters, digits, ``-``, ``_`` and ``.`` (no ``:``, which would start a role's format spec)
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: the prefix of every figure's key (book/CONVENTIONS.md: ``fig-<chapter>-<what>``)
FIGURE_PREFIX = "fig-"


def _check_key(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a glue key must be a string, got {type(name).__name__}: {name!r}")
    if not KEY.fullmatch(name):
        raise ValueError(
            f"glue key {name!r} is not usable in a {{glue:text}} role: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit"
        )
    return name


def _glue():
    try:
        from myst_nb import glue
    except ImportError:
        raise ImportError(
            "gluing needs myst-nb, which the book's extra installs: pip install 'gin_core[book]' "
            "(or pip install -r requirements.txt)"
        ) from None
    return glue


def _is_figure(value: Any) -> bool:
    """Whether ``value`` is a Matplotlib figure (without importing Matplotlib when it is not loaded)."""
    import sys

    figure = sys.modules.get("matplotlib.figure")
    return figure is not None and isinstance(value, figure.Figure)


def glued_text(value: Any) -> str:
    """The text that ``{glue:text}`<key>``` pastes for a glued value (no format spec).

    myst-nb stores the value's ``text/plain`` representation (IPython's formatter, as in a cell's
    output) and pastes it with its quotes removed: ``'smoke'`` becomes ``smoke``, ``0.25`` stays
    ``0.25``.

    Arguments:
        value: a number or a text, as given to :func:`show_value`.

    Returns:
        The pasted text.
    """
    from IPython.core.formatters import format_display_data

    bundle, _ = format_display_data(value)
    text = bundle["text/plain"]
    try:  # what myst-nb does before formatting (myst_nb.core.variables.format_plain_text)
        return str(ast.literal_eval(text))
    except (SyntaxError, ValueError):
        return text


def show_value(name: str, value: Any) -> None:
    """Glue a key number (or a short text) for the book, and print it with its key for a live reader.

    Prints one line, ``<name> = <text>``, where ``<text>`` is what ``{glue:text}`<name>``` pastes
    in the book (:func:`glued_text`); the book formats the glued value itself (``{glue:text}`<name>:.3f```).

    Arguments:
        name: the glue key, as the text's ``{glue:text}`` roles name it.
        value: a number or a text (not a figure: see :func:`show_figure`; not ``None``).

    Raises:
        TypeError: ``value`` is a figure or ``None``, or ``name`` is not a string.
        ValueError: ``name`` is not a usable glue key.
    """
    _check_key(name)
    if value is None:
        raise TypeError(f"show_value({name!r}, None): there is no value to glue")
    if _is_figure(value):
        raise TypeError(f"show_value({name!r}, ...) got a figure: glue figures with show_figure")
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()  # a NumPy or torch scalar: glue the Python number, which the book can format
    _glue()(name, value, display=False)
    print(f"{name} = {glued_text(value)}")


def show_figure(name: str, fig: Any) -> None:
    """Show a figure in the cell and glue it for the book's ``{glue:figure}``, then close it.

    The figure is displayed once, as the cell's output, and that output carries the glue key. The
    cell must carry the ``remove-output`` tag (book/CONVENTIONS.md), or the book would show the
    figure twice: under the cell and where ``{glue:figure}`` pastes it.

    Arguments:
        name: the glue key, ``fig-<chapter>-<what>``.
        fig: a Matplotlib figure with at least one axes; it is closed afterwards.

    Raises:
        TypeError: ``fig`` is not a Matplotlib figure, or ``name`` is not a string.
        ValueError: ``name`` is not a usable glue key or does not start with ``fig-``, or the
            figure has no axes (it would be blank).
    """
    _check_key(name)
    if not name.startswith(FIGURE_PREFIX):
        raise ValueError(f"a figure's glue key starts with {FIGURE_PREFIX!r} (fig-<chapter>-<what>), got {name!r}")
    if not _is_figure(fig):
        raise TypeError(f"show_figure({name!r}, ...) needs a Matplotlib figure, got {type(fig).__name__}")
    if not fig.axes:
        raise ValueError(f"show_figure({name!r}, ...): the figure has no axes, so it would be blank")
    import matplotlib.pyplot as plt

    _glue()(name, fig, display=True)
    plt.close(fig)
