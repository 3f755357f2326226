"""gin_core.book.show: chapters show their figures and key numbers live and still glue them for the book.

* In a real kernel (nbclient), :func:`show_value` glues the value the way ``glue(..., display=False)``
  did and prints ``<key> = <text>``, the text the book pastes; :func:`show_figure` leaves exactly
  one image in the cell, and that output is the glued figure (myst-nb's own extraction finds it).
* Bad input stops with a clear error.
* Every chapter follows the rule of book/CONVENTIONS.md ("Figures"): no bare ``glue``, and every
  cell that shows a figure carries ``remove-output`` (or ``remove-cell``), while a cell with
  ``remove-output`` shows nothing else that the book would lose. The rule checker is run on
  broken cells too, so that it can fail.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from gin_core.book.show import show_figure, show_value

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
KERNEL_TIMEOUT = 120  # seconds for the small notebook below

KERNEL_CELLS = [
    "import matplotlib.pyplot as plt\nfrom gin_core.book.show import glued_text, show_figure, show_value",
    "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([0, 1], [1, 0])\nshow_figure('fig-test-line', fig)",
    "show_value('test-float', 0.25)\nshow_value('test-text', 'smoke scale')\nshow_value('test-count', 1234)\n"
    "import numpy as np\nshow_value('test-numpy', np.float64(0.125))",
    "print(glued_text('smoke'), glued_text(0.5), plt.get_fignums())",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> list:
    """The cells above, executed in a fresh Python kernel; returns the cells with their outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in KERNEL_CELLS]
    folder = tmp_path_factory.mktemp("show")
    NotebookClient(
        nb, timeout=KERNEL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb.cells


def test_show_figure_is_the_cells_one_image_and_its_glued_output(executed):
    from myst_nb.ext.glue import extract_glue_data_cell

    outputs = executed[1].outputs
    images = [o for o in outputs if any(m.startswith("image/") for m in o.get("data", {}))]
    assert len(images) == 1, f"the figure should be shown once in its cell, got {len(images)} images: {outputs}"
    assert images[0]["metadata"]["scrapbook"] == {"name": "fig-test-line", "mime_prefix": ""}
    glued = dict(extract_glue_data_cell(executed[1]))  # what myst-nb reads for {glue:figure}
    assert list(glued) == ["fig-test-line"] and "image/png" in glued["fig-test-line"]["data"]


def test_show_value_glues_the_value_and_prints_what_the_book_pastes(executed):
    from myst_nb.core.variables import format_plain_text
    from myst_nb.ext.glue import extract_glue_data_cell

    cell = executed[2]
    printed = "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == "stdout")
    assert printed.splitlines() == [
        "test-float = 0.25",
        "test-text = smoke scale",
        "test-count = 1234",
        "test-numpy = 0.125",
    ]
    glued = dict(extract_glue_data_cell(cell))
    assert list(glued) == ["test-float", "test-text", "test-count", "test-numpy"]
    # a NumPy scalar is glued as a Python float, so that the book can format it ({glue:text}`key:.3f`)
    assert float(format_plain_text(glued["test-numpy"]["data"]["text/plain"], "")) == 0.125
    for key, output in glued.items():  # stored hidden (display=False): the book shows them only where pasted
        assert output["metadata"]["scrapbook"]["mime_prefix"] == "application/papermill.record/"
        line = next(line for line in printed.splitlines() if line.startswith(f"{key} = "))
        assert line == f"{key} = {format_plain_text(output['data']['text/plain'], '')}"
    assert cell.outputs and not [o for o in cell.outputs if "image/png" in o.get("data", {})]


def test_shown_figures_are_closed_and_quotes_are_removed(executed):
    printed = "".join(o.get("text", "") for o in executed[3].outputs)
    assert printed.strip() == "smoke 0.5 []", printed  # no figure left open for the inline backend to draw again


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda fig: show_value("a key", 1), ValueError, "not usable in a {glue:text} role"),
        (lambda fig: show_value("key:3f", 1), ValueError, "not usable"),
        (lambda fig: show_value("", 1), ValueError, "not usable"),
        (lambda fig: show_value(3, 1), TypeError, "must be a string"),
        (lambda fig: show_value("x-none", None), TypeError, "no value to glue"),
        (lambda fig: show_value("fig-x", fig), TypeError, "glue figures with show_figure"),
        (lambda fig: show_figure("x-plot", fig), ValueError, "starts with 'fig-'"),
        (lambda fig: show_figure("fig-x", 0.5), TypeError, "needs a Matplotlib figure"),
        (lambda fig: show_figure("fig-x", plt.figure()), ValueError, "has no axes"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    fig, _ = plt.subplots()
    try:
        with pytest.raises(error, match=re.escape(message)):
            call(fig)
    finally:
        plt.close("all")


# ---------------------------------------------------------------------------------------------
# The chapters follow the rule


def cell_problems(cell: dict) -> list[str]:
    """What a code cell does against the rule of book/CONVENTIONS.md, "Figures" (empty: nothing)."""
    source = "".join(cell["source"])
    tags = cell.get("metadata", {}).get("tags", [])
    calls = {
        node.func.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    problems = []
    if "glue" in calls or "myst_nb" in source or "display=False" in source:
        problems.append("glues directly: use show_value / show_figure (gin_core.book.show)")
    if "show_figure" in calls and not {"remove-output", "remove-cell"} & set(tags):
        problems.append("shows a figure without the remove-output tag: the book would show it twice")
    if "remove-output" in tags and calls & {"print", "display"}:
        problems.append("prints or displays under remove-output: the book would lose that output")
    return problems


def chapter_problems(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    problems = [f"cell {c['id']}: {p}" for c in code for p in cell_problems(c)]
    if not any("show_figure" in "".join(c["source"]) for c in code):
        problems.append("shows no figure")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_shows_and_glues_through_the_helper(path):
    problems = chapter_problems(path)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_rule_checker_can_fail():
    def cell(source, *tags):
        return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)}}

    assert cell_problems(cell("show_figure('fig-a', fig)", "hide-input", "remove-output")) == []
    assert cell_problems(cell("print(1)\nshow_value('a', 1)")) == []
    assert "glues directly" in cell_problems(cell("glue('a', 1, display=False)"))[0]
    assert "glues directly" in cell_problems(cell("from myst_nb import glue"))[0]
    assert "twice" in cell_problems(cell("show_figure('fig-a', fig)", "hide-input"))[0]
    assert "lose" in cell_problems(cell("print(x)\nshow_figure('fig-a', fig)", "remove-output"))[0]
