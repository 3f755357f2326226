"""Every chapter teaches: the structure of book/CONVENTIONS.md, checked on the notebooks and the bibliography.

Each notebook listed in ``_toc.yml`` must have learning goals with a prerequisites line, an "On a
GPU" line, a "What you learned" summary and at least two exercises, each with a solution in a
collapsed (``hide-cell``) code cell, and at least one exercise that asks the reader to predict.
Every entry of ``book/references.bib`` must be cited on some page. Every chapter reads as a lecture:
no visible code cell longer than 30 lines (the bulk goes into ``gin_core.book`` helpers), and no commit
hash or story of the book's earlier versions in its prose. The checkers are also run on deliberately
broken notebooks, to show that each rule can fail. (That every image is a captioned
figure is checked on the rendered pages, in tests/test_book_html.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import toc_pages

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[Path]:
    files = toc_pages()
    found = []
    for name in files:
        matches = [p for p in (ROOT / f"{name}.ipynb", ROOT / f"{name}.md") if p.is_file()]
        assert matches, f"_toc.yml lists {name}, which has no .ipynb or .md file"
        found.append(matches[0])
    return found


CHAPTERS = [p for p in toc_files() if p.suffix == ".ipynb"]


def chapter_problems(notebook: dict) -> list[str]:
    """What a chapter lacks of the structure in book/CONVENTIONS.md (an empty list: nothing)."""
    cells = notebook["cells"]
    text = ["".join(c["source"]) for c in cells]
    markdown = "\n".join(t for c, t in zip(cells, text) if c["cell_type"] == "markdown")
    problems = []
    if not re.search(r"^## Learning goals\s*$", markdown, flags=re.M):
        problems.append("no '## Learning goals' section")
    if not re.search(r"^\*\*Prerequisites:\*\*", markdown, flags=re.M):
        problems.append("no '**Prerequisites:**' line")
    if "{doc}`notation`" not in markdown:
        problems.append("no link to the notation page")
    if not re.search(r"^\*\*On a GPU:\*\*", markdown, flags=re.M):
        problems.append("no '**On a GPU:**' line")
    if not re.search(r"^## What you learned\s*$", markdown, flags=re.M):
        problems.append("no '## What you learned' summary")
    exercises_at = [i for i, t in enumerate(text) if re.search(r"^## Exercises\s*$", t, flags=re.M)]
    if not exercises_at:
        problems.append("no '## Exercises' section")
        return problems
    exercises = []  # (number, heading text, solution cells)
    for i in range(exercises_at[0], len(cells)):
        if cells[i]["cell_type"] == "markdown":
            for number, _title in re.findall(r"^### Exercise (\d+): (.+)$", text[i], flags=re.M):
                exercises.append((int(number), text[i], []))
        elif exercises:
            exercises[-1][2].append(i)
    if len(exercises) < 2:
        problems.append(f"{len(exercises)} exercise(s); at least 2 are needed")
    for number, _, solution_cells in exercises:
        solutions = [
            i
            for i in solution_cells
            if text[i].startswith(f"# Solution to exercise {number}")
            and "hide-cell" in cells[i].get("metadata", {}).get("tags", [])
        ]
        if not solutions:
            problems.append(
                f"exercise {number} has no collapsed solution cell (tag hide-cell, '# Solution to exercise {number}')"
            )
    if not any("**Predict**" in heading for _, heading, _ in exercises):
        problems.append("no exercise asks the reader to **Predict**")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_teaches(path):
    problems = chapter_problems(json.loads(path.read_text()))
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_chapters_have_no_outputs():
    for path in CHAPTERS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name} has outputs"


def _cell(kind: str, source: str, tags: list[str] | None = None) -> dict:
    cell = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


GOOD = [
    _cell(
        "markdown",
        "# A chapter\n\n## Learning goals\n\n- one\n\n**Prerequisites:** {doc}`notation`\n\n**On a GPU:** soon.",
    ),
    _cell("code", "x = 1"),
    _cell("markdown", "## What you learned\n\n- one"),
    _cell("markdown", "## Exercises\n\n### Exercise 1: **Predict** the value"),
    _cell("code", "# Solution to exercise 1\nassert x == 1", ["hide-cell"]),
    _cell("markdown", "### Exercise 2: another"),
    _cell("code", "# Solution to exercise 2\nassert x", ["hide-cell"]),
]


def test_the_checker_passes_a_good_chapter():
    assert chapter_problems({"cells": GOOD}) == []


@pytest.mark.parametrize(
    "break_it, message",
    [
        (
            lambda c: c[0].update(source="# A chapter\n\n**Prerequisites:** {doc}`notation`\n**On a GPU:** x"),
            "Learning goals",
        ),
        (lambda c: c[0].update(source="# A\n\n## Learning goals\n\n**On a GPU:** x {doc}`notation`"), "Prerequisites"),
        (
            lambda c: c[0].update(source="# A\n\n## Learning goals\n\n**Prerequisites:** none\n**On a GPU:** x"),
            "notation page",
        ),
        (lambda c: c[0].update(source="# A\n\n## Learning goals\n\n**Prerequisites:** {doc}`notation`"), "On a GPU"),
        (lambda c: c[2].update(source="## Summary"), "What you learned"),
        (lambda c: c[3].update(source="## Problems\n\n### Exercise 1: **Predict** it"), "no '## Exercises'"),
        (lambda c: c.__delitem__(slice(5, 7)), "1 exercise(s)"),
        (lambda c: c[4]["metadata"].update(tags=[]), "exercise 1 has no collapsed solution"),
        (lambda c: c[6].update(source="assert x"), "exercise 2 has no collapsed solution"),
        (lambda c: c[3].update(source="## Exercises\n\n### Exercise 1: guess the value"), "Predict"),
    ],
)
def test_the_checker_catches_each_missing_part(break_it, message):
    cells = json.loads(json.dumps(GOOD))
    break_it(cells)
    problems = chapter_problems({"cells": cells})
    assert any(message in p for p in problems), problems


def cited_keys(text: str) -> set[str]:
    keys = set()
    for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text):
        keys |= {k.strip() for k in group.split(",")}
    return keys


def test_every_bibliography_entry_is_cited():
    from pybtex.database import parse_file

    entries = set(parse_file(str(ROOT / "book" / "references.bib")).entries)
    pages = [p for p in toc_files()]
    cited = set().union(*(cited_keys(p.read_text()) for p in pages))
    assert not cited - entries, f"cited but not in references.bib: {sorted(cited - entries)}"
    assert not entries - cited, f"in references.bib but cited on no page: {sorted(entries - cited)}"


def test_cited_keys_are_found_in_every_citation_form():
    text = "a {cite}`x, y` b {cite:p}`z` c {cite:t}`w`"
    assert cited_keys(text) == {"x", "y", "z", "w"}


MAX_VISIBLE_LINES = 30
#: tags that hide a code cell's source in the book (collapsed or removed)
HIDING_TAGS = {"remove-input", "remove-cell", "hide-input", "hide-cell"}
#: a word of 7-40 hexadecimal characters with at least one digit and one letter a-f: a commit hash
COMMIT_HASH = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")
#: phrases that tell the story of the book's earlier versions instead of teaching
VERSION_STORY = re.compile(
    r"\b(?:the\s+book'?s\s+(?:first|earlier|previous|old|original)\s+version"
    r"|(?:an?\s+|the\s+)?(?:first|earlier|previous|older)\s+version\s+of\s+(?:this|the)\s+(?:book|chapter|page))",
    flags=re.I,
)


def lecture_problems(notebook: dict) -> list[str]:
    """What keeps a chapter from reading as a lecture (an empty list: nothing).

    A code cell is visible unless a tag in :data:`HIDING_TAGS` hides it; no visible code cell may be
    longer than :data:`MAX_VISIBLE_LINES` lines. Markdown prose may hold no commit hash
    (:data:`COMMIT_HASH`) and no version story (:data:`VERSION_STORY`); frozen protocols and records
    are referenced by their file names instead.
    """
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        source = "".join(cell["source"])
        label = f"cell {index} ({cell.get('id', 'no id')})"
        if cell["cell_type"] == "code":
            tags = set(cell.get("metadata", {}).get("tags", []))
            lines = len(source.splitlines())
            if not tags & HIDING_TAGS and lines > MAX_VISIBLE_LINES:
                problems.append(f"{label}: visible code cell of {lines} lines (at most {MAX_VISIBLE_LINES})")
        elif cell["cell_type"] == "markdown":
            for match in COMMIT_HASH.finditer(source):
                problems.append(f"{label}: commit hash {match.group()!r} in the prose")
            for match in VERSION_STORY.finditer(source):
                problems.append(f"{label}: version story {match.group()!r} in the prose")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_reads_as_a_lecture(path):
    problems = lecture_problems(json.loads(path.read_text()))
    assert not problems, f"{path.name}: " + "; ".join(problems)


def _long_cell(lines: int, tags: list[str] | None = None) -> dict:
    return _cell("code", "\n".join(f"x{i} = {i}" for i in range(lines)), tags)


def test_the_lecture_checker_passes_short_cells_and_plain_prose():
    cells = [
        *GOOD,
        _long_cell(MAX_VISIBLE_LINES),
        _long_cell(80, ["hide-input"]),
        _long_cell(80, ["hide-cell"]),
        _long_cell(80, ["remove-input"]),
        _long_cell(80, ["remove-cell", "other"]),
        _cell("markdown", "Seed 1234567, 100000 points, the record `protocol.json`, colour deadbeef and cafe."),
        _cell("code", "# commit 3f2a9c1d in code is not prose"),
    ]
    assert lecture_problems({"cells": cells}) == []


@pytest.mark.parametrize(
    "cell, message",
    [
        (_long_cell(MAX_VISIBLE_LINES + 1), "visible code cell of 31 lines"),
        (_long_cell(45, ["remove-output"]), "visible code cell of 45 lines"),
        (_cell("markdown", "Frozen at commit 3f2a9c1 and run once."), "commit hash '3f2a9c1'"),
        (_cell("markdown", "See 9efc3f4c6b1d0a2e3f4a5b6c7d8e9f0a1b2c3d4e."), "commit hash"),
        (_cell("markdown", "The book's first version of this sweep mixed the data."), "version story"),
        (_cell("markdown", "An earlier version of this book found otherwise."), "version story"),
        (_cell("markdown", "the earlier version of the book drew it"), "version story"),
    ],
)
def test_the_lecture_checker_catches_long_cells_hashes_and_version_stories(cell, message):
    problems = lecture_problems({"cells": [*GOOD, cell]})
    assert any(message in p for p in problems), problems
