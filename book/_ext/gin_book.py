"""Sphinx extension of the GIN book: scale-aware execution and readable progress bars.

1. The build follows ``GIN_SCALE`` and ``GIN_DATASET``. The chapters read the scale from the
   environment (:func:`gin_core.book.settings.run_config`), but a notebook's text does not change with
   it, so jupyter-cache alone would hand a ``smoke`` result to a ``paper`` build. When the
   configuration is read, this extension

   * keeps one execution cache per (scale, data set): ``_build/.jupyter_cache/<scale>-<dataset>``;
   * sets the per-cell execution timeout for the scale (:data:`gin_core.book.settings.TIMEOUTS`), unless
     ``GIN_CELL_TIMEOUT`` (seconds) overrides it;
   * records both in the configuration value ``gin_scale``, so that Sphinx re-reads every
     chapter when the scale changes (its environment depends on that value).

2. Progress bars collapse to their final state. tqdm redraws a bar by writing ``\\r`` and the
   new state; the kernel sends each redraw as a separate stream message. myst-nb's
   ``nb_merge_streams`` joins those messages with a newline *before* it resolves ``\\r``
   (myst-nb 1.4 ``coalesce_streams``), so every redraw would become a line of its own. The
   replacement :func:`merge_streams` joins the raw text first and then keeps, on every line,
   only what follows the last carriage return, as a terminal would show it.

3. Each script appears once per page. With Sphinx 7.4, scripts that sphinx-thebe and
   sphinx-togglebutton add while the build runs are listed twice in every page; the second
   ``const THEBE_JS_URL`` is a JavaScript SyntaxError in the browser. :func:`unique_scripts`
   drops the repeats from the page context.

4. The bibliography page labels entries the way the text cites them ("Comon, 1994") rather
   than with numbers: the pybtex style ``gin_authoryear`` (``bibtex_default_style``).
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

_BACKSPACE = re.compile(r"[^\n]\x08")


def resolve_scale() -> tuple[str, str, int]:
    """The scale, the requested data set and the per-cell timeout, from the book's settings.

    Returns:
        ``(scale, dataset, timeout_seconds)``.

    Raises:
        ValueError: for an unknown ``GIN_SCALE``/``GIN_DATASET`` or a bad ``GIN_CELL_TIMEOUT``.
    """
    from gin_core.book.settings import cell_timeout, run_config

    run = run_config()  # validates GIN_SCALE / GIN_DATASET with a clear error
    return run.scale, run.dataset, cell_timeout(run.scale)


def resolve_carriage_returns(text: str) -> str:
    """What a terminal shows for ``text``: backspaces applied, each line cut to its last ``\\r`` redraw."""
    previous = None
    while previous != text:
        previous, text = text, _BACKSPACE.sub("", text)
    lines = []
    for line in text.split("\n"):
        redraws = [part for part in line.split("\r") if part]
        lines.append(redraws[-1] if redraws else "")
    return "\n".join(lines)


def merge_streams(outputs: list) -> list:
    """Merge all stream outputs of the same name (stdout, stderr) of a cell into one, in order.

    The raw texts are concatenated (no separator is added), then
    :func:`resolve_carriage_returns` is applied. stdout is placed before an adjacent stderr,
    as myst-nb does, so that the order does not depend on message timing.

    Arguments:
        outputs: a cell's outputs (nbformat nodes).

    Returns:
        The new list of outputs.
    """
    merged, streams = [], {}
    for output in outputs or []:
        if output["output_type"] == "stream":
            name = output["name"]
            if name in streams:
                streams[name]["text"] += output["text"]
                continue
            streams[name] = output
        merged.append(output)
    for output in streams.values():
        output["text"] = resolve_carriage_returns(output["text"]).rstrip() + "\n"
    for i, output in enumerate(merged):
        if output["output_type"] == "stream" and output["name"] == "stderr":
            if i + 1 < len(merged) and merged[i + 1]["output_type"] == "stream" and merged[i + 1]["name"] == "stdout":
                merged.insert(i, merged.pop(i + 1))
    return merged


def unique_scripts(scripts: list) -> list:
    """The scripts of a page without repeats (same file or body and same attributes), first kept.

    An inline script is registered with the file name ``None`` by some extensions and ``""`` by
    others; both mean "no file".
    """
    seen, unique = set(), []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""
        attributes = getattr(script, "attributes", {}) or {}
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def _html_page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])


def _register_authoryear_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.richtext import Text
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        """Labels "Surname, year", "Surname and Surname, year" or "Surname et al., year"."""

        def format_labels(self, sorted_entries):
            for entry in sorted_entries:
                people = entry.persons.get("author") or entry.persons.get("editor") or []
                names = [" ".join(person.last_names) for person in people]
                if len(names) > 2:
                    who = f"{names[0]} et al."
                elif names:
                    who = " and ".join(names)
                else:
                    who = entry.key
                label = f"{who}, {entry.fields.get('year', 'n.d.')}"
                yield Text.from_latex(label).render_as("text")  # LaTeX accents to Unicode

    class AuthorYearStyle(PlainStyle):
        default_label_style = "gin_authoryear"

    register_plugin("pybtex.style.labels", "gin_authoryear", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", "gin_authoryear", AuthorYearStyle, force=True)


def execution_cache_path(build_root: Path, scale: str, dataset: str) -> Path:
    """The jupyter-cache folder of one (scale, data set): ``<build root>/.jupyter_cache/<scale>-<dataset>``.

    ``tests/conftest.py`` stores the chapters that nbmake executed there, so that the book
    build in the same test run finds them and does not execute them a second time.
    """
    return Path(build_root) / ".jupyter_cache" / f"{scale}-{dataset}"


def _config_inited(app: Sphinx, config: Config) -> None:
    scale, dataset, timeout = resolve_scale()
    build_root = Path(app.outdir).parent  # <book>/_build
    if not config.nb_execution_cache_path:
        config.nb_execution_cache_path = str(execution_cache_path(build_root, scale, dataset))
    config.nb_execution_timeout = timeout
    config.gin_scale = f"scale={scale} dataset={dataset} timeout={timeout}"
    logger.info(f"[gin_book] {config.gin_scale}, cache {config.nb_execution_cache_path}")


def setup(app: Sphinx) -> dict:
    import myst_nb.core.render as render

    if not hasattr(render, "coalesce_streams"):
        raise RuntimeError(
            "myst_nb.core.render.coalesce_streams is gone; update book/_ext/gin_book.py for this myst-nb"
        )
    render.coalesce_streams = merge_streams  # used when nb_merge_streams is true

    _register_authoryear_style()
    app.add_config_value("gin_scale", "", "env")
    # Run before myst-nb turns the nb_* values into its own configuration (builder-inited).
    app.connect("config-inited", _config_inited, priority=400)
    app.connect("html-page-context", _html_page_context, priority=900)  # after the extensions added theirs
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
