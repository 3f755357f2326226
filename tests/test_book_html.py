"""The built book, checked in a real browser (headless Debian Chromium).

A session fixture builds the book with ``jupyter-book build . -W`` at whatever ``GIN_SCALE``
the environment sets (``smoke`` in CI). Each page listed in ``_toc.yml`` is then opened in
Debian's headless Chromium (``/usr/bin/chromium``, or ``GIN_CHROMIUM``), driven by Playwright
for Python; Playwright never downloads a browser of its own here. Each page is checked:

* it loads (HTTP-less ``file://``), with no JavaScript exception and no failed resource load
  or console error (which also proves that the page needs no network: MathJax and its fonts are local);
* every image in the article has decoded to a non-empty bitmap, its file is not blank, and it is a
  numbered figure with a caption (book/CONVENTIONS.md);
* no error output: no traceback, no stderr output, no Sphinx "problematic" node or system
  message, no MathJax error;
* no unrendered cell: no raw MyST/glue/citation markup, no figure shown only as text
  (``<Figure size ...>``), no widget placeholder;
* the math rendered: every Sphinx math node holds MathJax output and no raw ``$`` is left;
* progress bars are collapsed (no tqdm redraw spam);
* no code or output block is wider than the text column (long lines would be cut off; cells wrap them).

A full-page screenshot of each page is saved to ``_build/screenshots/<page>.png``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, sync_playwright

from gin_core.book.settings import chromium, run_config

from conftest import toc_pages

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = chromium()  # GIN_CHROMIUM or Debian's /usr/bin/chromium (gin_core.book.settings)
CHROMIUM_FLAGS = [  # headless, and the DevTools pipe, are Playwright's own
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
PAGE_TIMEOUT = 60.0  # seconds for one page to load and typeset its math
PROGRESS_LINE = re.compile(r"\d+%\|")
MAX_PROGRESS_LINES = 25  # per output block; an uncollapsed bar leaves one line per redraw
# Harmless console errors: pydata-sphinx-theme's own, on a browser profile with no stored light/dark mode.
KNOWN_CONSOLE_ERRORS = {"Got invalid theme mode: . Resetting to auto."}


PAGES = toc_pages()


# ---------------------------------------------------------------------------------------------
# The build


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book once per test session; fail with the build log if the build fails."""
    started = time.perf_counter()
    result = subprocess.run(  # `jupyter-book build . -W`, with the interpreter that runs the tests
        [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", ".", "-W"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        pytest.fail(
            f"`jupyter-book build . -W` failed (exit {result.returncode}) after {elapsed:.0f} s\n"
            f"--- stdout (tail) ---\n{result.stdout[-20000:]}\n--- stderr (tail) ---\n{result.stderr[-20000:]}",
            pytrace=False,
        )
    BUILD_LOG.append(result.stdout + result.stderr)
    print(f"book built in {elapsed:.1f} s ({run_config()})")
    return HTML


BUILD_LOG: list[str] = []  # the output of the session's build


def test_the_build_reuses_the_chapters_that_nbmake_ran(built_book):
    """Each chapter executes once per test run: what nbmake executed, the build takes from the cache."""
    from conftest import CACHED_BY_NBMAKE

    executed = {Path(m).resolve() for m in re.findall(r"(\S+\.ipynb): Executing notebook using", BUILD_LOG[0])}
    again = sorted(str(p.relative_to(ROOT)) for p in executed & set(CACHED_BY_NBMAKE))
    print(f"nbmake cached {len(CACHED_BY_NBMAKE)} chapters; the build executed {len(executed)}")
    assert not again, f"the book build executed again the chapters nbmake had run: {again}"


# ---------------------------------------------------------------------------------------------
# The browser: one Playwright-driven Debian Chromium for the session, a fresh context per page


@pytest.fixture(scope="module")  # stopped before tests/test_live_chapters.py starts its own Playwright
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package "
            "(`apt-get install chromium`) or point GIN_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    with sync_playwright() as playwright:  # executable_path only: nothing downloads a browser
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# ---------------------------------------------------------------------------------------------
# What is checked on each page (runs inside the page)

PAGE_REPORT_JS = r"""
async (timeout) => {
  // MathJax typeset, the fonts loaded and the theme's load-time transitions (a sliding sidebar) over,
  // or the time is up (then untypeset math is reported)
  const transitions = document.getAnimations().filter(a => isFinite(a.effect?.getComputedTiming().endTime));
  const ready = Promise.all([window.MathJax?.startup?.promise, document.fonts.ready,
                             ...transitions.map(a => a.finished.catch(() => null))]);
  await Promise.race([ready, new Promise(resolve => setTimeout(resolve, timeout))]);
  const article = document.querySelector('article') || document.body;
  const images = [...article.querySelectorAll('img')].map(img => ({
    src: img.getAttribute('src'), complete: img.complete,
    width: img.naturalWidth, height: img.naturalHeight}));
  const mathNodes = [...document.querySelectorAll('.math')];
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, .cell_input, mjx-container, script, style').forEach(e => e.remove());
  const outputs = [...article.querySelectorAll('.cell_output pre, .output pre')].map(p => p.textContent);
  return {
    title: document.title,
    articleText: article.innerText.length,
    images: images,
    figures: article.querySelectorAll('figure').length,
    figuresWithoutImage: [...article.querySelectorAll('figure')].filter(f => !f.querySelector('img, svg')).length,
    uncaptioned: [...article.querySelectorAll('img')].filter(img => {
      const caption = img.closest('figure')?.querySelector('figcaption');
      return !(caption && caption.querySelector('.caption-number') && caption.textContent.trim().length > 20);
    }).map(img => img.getAttribute('src')),
    mathNodes: mathNodes.length,
    mathUnrendered: mathNodes.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80)),
    mjxContainers: document.querySelectorAll('mjx-container').length,
    mathErrors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')].map(e => e.textContent.slice(0, 80)),
    proseText: clone.textContent,
    tracebacks: article.querySelectorAll('.output.traceback, .output.error').length,
    stderr: [...article.querySelectorAll('.output.stderr')].map(e => e.textContent.slice(0, 300)),
    problematic: [...article.querySelectorAll('.problematic, .system-message')].map(e => e.textContent.slice(0, 120)),
    codeCells: article.querySelectorAll('.cell.docutils.container, div.cell').length,
    outputs: outputs,
    clipped: [...article.querySelectorAll('pre')].filter(p => p.scrollWidth > p.clientWidth + 1)
      .map(p => p.textContent.split('\n').reduce((a, l) => l.length > a.length ? l : a, '')),
  };
}
"""

RAW_MARKUP = [
    "$",  # math that MathJax did not typeset (typeset math is removed from the text checked)
    "|---",  # a Markdown table shown as text
    "```",
    "{glue",
    "{cite",
    "{eq}",
    "{numref}",
    "{doc}",
    ":name:",
    "papermill.record",
]
OUTPUT_PROBLEMS = [
    "<Figure size",  # a figure that was not rendered as an image
    "Traceback (most recent call last)",
    "Widget Javascript not detected",
    "Error displaying widget",
    "IProgress not found",
    "TqdmWarning",
]


def open_page(browser: Browser, path: Path, screenshot: Path | None = None) -> tuple[dict, list[str]]:
    """Load an HTML file; return the in-page report and what went wrong in the browser while loading it.

    With ``screenshot``, a full-page PNG (1280 px wide) is written there.
    """
    events: list[str] = []

    def on_error(error):  # an uncaught exception in the page's JavaScript
        where = next((line.strip() for line in (error.stack or "").splitlines()[1:2]), "")
        events.append(f"JavaScript exception: {error.name}: {error.message} {where}".rstrip())

    def on_console(message):
        if message.type == "error" and message.text not in KNOWN_CONSOLE_ERRORS:
            events.append(f"console error: {message.text}")

    def on_request(request):
        if request.url.startswith(("http:", "https:")):
            events.append(f"requests a network resource: {request.url}")

    def on_response(response):  # file:// has no status; a server's error status would show here
        if response.status >= 400:
            events.append(f"failed to load {response.url}: HTTP {response.status}")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT * 1000)
        page.on("pageerror", on_error)
        page.on("console", on_console)
        page.on("request", on_request)
        page.on("requestfailed", lambda request: events.append(f"failed to load {request.url}: {request.failure}"))
        page.on("response", on_response)
        page.goto(path.as_uri(), wait_until="load")
        report = page.evaluate(PAGE_REPORT_JS, PAGE_TIMEOUT * 1000)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=screenshot, full_page=True, animations="disabled")
    finally:
        context.close()
    return report, events


def page_problems(path: Path, report: dict, events: list[str]) -> list[str]:
    """Everything wrong with a loaded page, as readable messages (empty when the page is fine)."""
    problems = []
    if report["articleText"] < 200:
        problems.append(f"the page has almost no text ({report['articleText']} characters)")

    # It loads, with no script error, nothing that failed to load, and nothing from the network.
    problems += list(dict.fromkeys(events))

    # Figures: every image decoded to a non-empty bitmap, is not a blank file, and has a numbered caption.
    for image in report["images"]:
        if not (image["complete"] and image["width"] > 0 and image["height"] > 0):
            problems.append(f"image not rendered: {image}")
            continue
        source = (path.parent / image["src"]).resolve()
        if source.suffix.lower() == ".png" and source.is_file() and image_is_blank(source):
            problems.append(f"image is blank: {image['src']}")
    if report["figuresWithoutImage"]:
        problems.append(f"{report['figuresWithoutImage']} figures without an image")
    problems += [f"image without a numbered caption: {src}" for src in report["uncaptioned"]]

    # No error output and no unrendered cell.
    if report["tracebacks"]:
        problems.append(f"{report['tracebacks']} error outputs")
    problems += [f"stderr output: {text}" for text in report["stderr"]]
    problems += [f"unresolved reference or system message: {text}" for text in report["problematic"]]
    problems += [f"unrendered markup {marker!r} in the text" for marker in RAW_MARKUP if marker in report["proseText"]]
    for text in report["outputs"]:
        problems += [f"output contains {problem!r}: {text[:200]}" for problem in OUTPUT_PROBLEMS if problem in text]
        if "\r" in text:
            problems.append("an output still holds carriage returns")
        progress = [line for line in text.splitlines() if PROGRESS_LINE.search(line)]
        if len(progress) > MAX_PROGRESS_LINES:
            problems.append(f"{len(progress)} progress-bar lines in one output (tqdm redraws not collapsed)")

    # Readable: no code or output block wider than the text column (its lines would be cut
    # off). book/_static/gin.css wraps long lines of cells; this catches what cannot wrap.
    problems += [f"a code or output block is wider than the page: {line[:120]!r}" for line in report["clipped"]]

    # Math rendered by MathJax.
    problems += [f"math not typeset: {text}" for text in report["mathUnrendered"][:5]]
    problems += [f"MathJax error: {text}" for text in report["mathErrors"][:5]]
    return problems


def image_is_blank(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    return pixels.size == 0 or int(pixels.max()) - int(pixels.min()) < 10


# ---------------------------------------------------------------------------------------------
# Tests


def test_toc_lists_existing_files():
    missing = [p for p in PAGES if not any((ROOT / f"{p}{s}").exists() for s in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert len(PAGES) == len(set(PAGES)), "a page appears twice in _toc.yml"


def test_toc_parser_walks_parts_chapters_and_sections(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: a/intro\nparts:\n  - caption: P\n    chapters:\n      - file: a/one.ipynb\n"
        "        sections:\n          - file: a/two\n  - caption: Q\n    chapters:\n      - file: a/three\n"
    )
    assert toc_pages(toc) == ["a/intro", "a/one", "a/two", "a/three"]


@pytest.mark.parametrize("page", PAGES)
def test_page_in_browser(built_book, browser, page):
    path = built_book / f"{page}.html"
    assert path.is_file(), f"{path} was not built"
    report, events = open_page(browser, path, SCREENSHOTS / f"{page.replace('/', '_')}.png")
    problems = page_problems(path, report, events)
    assert not problems, f"{page}:\n" + "\n".join(problems)


N_REDRAWS = MAX_PROGRESS_LINES + 1  # one more tqdm redraw than the check lets through
PROGRESS_SPAM = "\n".join(f"train: {100 * i // N_REDRAWS:3d}%|#| {i}/{N_REDRAWS}" for i in range(1, N_REDRAWS + 1))
BROKEN_PAGE = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title>
<link rel="stylesheet" href="http://127.0.0.1:9/remote.css"></head><body><article>
<p>A page with everything the browser check must catch. Raw math $x^2$ that nobody typeset, a table
| a | b |
|---|---|
left as text, an image that does not exist, a citation {{cite}}`nobody`, and stderr output. This
paragraph is long enough to count as content for the text-length check of the page report.</p>
<span class="math">\\(x\\)</span> <mjx-merror>Undefined control sequence \\foo</mjx-merror>
<span class="problematic">:ref:`nowhere`</span>
<img src="missing.png" alt="missing"> <img src="blank.png" alt="blank">
<figure><figcaption>A figure with no image</figcaption></figure>
<div class="output stderr"><pre>UserWarning: something</pre></div>
<div class="output traceback"><pre>Traceback (most recent call last):\nValueError</pre></div>
<div class="cell_output"><pre>{PROGRESS_SPAM}\n&lt;Figure size 640x480 with 1 Axes&gt;
Error displaying widget</pre></div>
<div class="cell_output"><pre>train:  10%|#  | 1/10&#13;train:  20%|## | 2/10</pre></div>
<pre style="width: 300px; overflow: auto">a line of code far too long for its narrow box: it is cut off</pre>
<script>console.error("something broke"); throw new Error("boom");</script>
</article></body></html>"""


def test_browser_check_catches_a_broken_page(browser, tmp_path):
    """The checks can fail: a page with each kind of defect yields each kind of complaint.

    Its one network request goes to port 9, which Chromium refuses as unsafe: nothing leaves the machine.
    """
    from PIL import Image

    Image.new("RGB", (64, 48), "white").save(tmp_path / "blank.png")
    path = tmp_path / "broken.html"
    path.write_text(BROKEN_PAGE)
    problems = "\n".join(page_problems(path, *open_page(browser, path)))
    for expected in [
        "JavaScript exception: Error: boom",
        "console error: something broke",
        "failed to load file://",
        "requests a network resource: http://127.0.0.1:9/remote.css",
        "image not rendered",
        "image is blank: blank.png",
        "1 figures without an image",
        "image without a numbered caption: missing.png",
        "1 error outputs",
        "stderr output",
        "unresolved reference or system message",
        "unrendered markup '$'",
        "unrendered markup '|---'",
        "unrendered markup '{cite'",
        "output contains 'Traceback (most recent call last)'",
        "output contains '<Figure size'",
        "output contains 'Error displaying widget'",
        "progress-bar lines in one output",
        "an output still holds carriage returns",
        "wider than the page",
        "math not typeset",
        "MathJax error: Undefined control sequence",
    ]:
        assert expected in problems, f"the check missed {expected!r}; it reported:\n{problems}"
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><article><p>Hardly anything.</p></article></body></html>")
    assert "almost no text" in "\n".join(page_problems(empty, *open_page(browser, empty)))
