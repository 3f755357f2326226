"""Tests of the book's Sphinx extension book/_ext/gin_book.py (scale settings, streams, scripts, labels)."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

SPEC = importlib.util.spec_from_file_location(
    "gin_book", Path(__file__).resolve().parents[1] / "book" / "_ext" / "gin_book.py"
)
gin_book = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gin_book)


def stream(name, text):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_progress_bar_redraws_collapse_to_the_last_state():
    chunks = ["start\n", "\rtrain:   0%|   | 0/3", "\rtrain:  33%|#  | 1/3", "\rtrain: 100%|###| 3/3\n", "done\n"]
    merged = gin_book.merge_streams([stream("stdout", c) for c in chunks])
    assert len(merged) == 1
    assert merged[0]["text"] == "start\ntrain: 100%|###| 3/3\ndone\n"


def test_merge_keeps_other_outputs_in_place_and_stdout_before_stderr():
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "fig"})
    outputs = [stream("stderr", "warn\n"), stream("stdout", "a\n"), figure, stream("stdout", "b\n")]
    merged = gin_book.merge_streams(outputs)
    assert [o["output_type"] for o in merged] == ["stream", "stream", "display_data"]
    assert merged[0]["name"] == "stdout" and merged[0]["text"] == "a\nb\n"
    assert merged[1]["name"] == "stderr" and merged[1]["text"] == "warn\n"


def test_carriage_returns_and_backspaces_like_a_terminal():
    assert gin_book.resolve_carriage_returns("abc\rxy\n") == "xy\n"
    assert gin_book.resolve_carriage_returns("abc\r\n") == "abc\n"
    assert gin_book.resolve_carriage_returns("ab\x08c") == "ac"
    assert gin_book.resolve_carriage_returns("plain\ntext") == "plain\ntext"


def test_unique_scripts_drops_repeats_of_inline_and_file_scripts():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [
        _JavaScript("a.js"),
        _JavaScript(None, body="const X = 1"),
        _JavaScript("", body="const X = 1"),  # the same inline script, registered with "" instead of None
        _JavaScript("a.js"),
        _JavaScript("a.js", **{"async": "async"}),
    ]
    unique = gin_book.unique_scripts(scripts)
    assert unique == [scripts[0], scripts[1], scripts[4]]


@pytest.mark.parametrize(("scale", "timeout"), [("smoke", 600), ("cpu", 3600), ("paper", 21600)])
def test_scale_sets_the_timeout(monkeypatch, scale, timeout):
    monkeypatch.setenv("GIN_SCALE", scale)
    monkeypatch.setenv("GIN_DATASET", "mnist")
    monkeypatch.delenv("GIN_CELL_TIMEOUT", raising=False)
    assert gin_book.resolve_scale() == (scale, "mnist", timeout)
    monkeypatch.setenv("GIN_CELL_TIMEOUT", "42")
    assert gin_book.resolve_scale()[2] == 42


def test_bad_settings_raise_clear_errors(monkeypatch):
    monkeypatch.setenv("GIN_SCALE", "huge")
    with pytest.raises(ValueError, match="GIN_SCALE"):
        gin_book.resolve_scale()
    monkeypatch.setenv("GIN_SCALE", "smoke")
    monkeypatch.setenv("GIN_CELL_TIMEOUT", "ten")
    with pytest.raises(ValueError, match="GIN_CELL_TIMEOUT"):
        gin_book.resolve_scale()
    monkeypatch.setenv("GIN_CELL_TIMEOUT", "0")
    with pytest.raises(ValueError, match="positive"):
        gin_book.resolve_scale()


def test_author_year_labels():
    from pybtex.database import parse_string
    from pybtex.plugin import find_plugin

    gin_book._register_authoryear_style()
    bib = parse_string(
        "@article{a, author={Comon, Pierre}, title={T}, journal={J}, year={1994}}"
        '@article{b, author={Hyv{\\"a}rinen, Aapo and Pajunen, Petteri}, title={T}, journal={J}, year={1999}}'
        '@article{c, author={Khemakhem, I. and Kingma, D. and Hyv{\\"a}rinen, A.}, title={T}, journal={J}, year={2019}}',
        "bibtex",
    )
    labels = list(find_plugin("pybtex.style.labels", "gin_authoryear")().format_labels(bib.entries.values()))
    assert labels == ["Comon, 1994", "Hyvärinen and Pajunen, 1999", "Khemakhem et al., 2019"]
