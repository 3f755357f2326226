"""The built book, checked in a real browser (headless Debian Chromium).

A session fixture builds the book with ``jupyter-book build . -W`` at whatever ``GIN_SCALE``
the environment sets (``smoke`` in CI). Each page listed in ``_toc.yml`` is then opened in
headless Chromium, driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``,
no network port, no extra Python package), and checked:

* it loads (HTTP-less ``file://``), with no JavaScript exception and no failed resource load
  (which also proves that the page needs no network: MathJax and its fonts are local);
* every image in the article has decoded to a non-empty bitmap, and its file is not blank;
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

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("GIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
PAGE_TIMEOUT = 60.0  # seconds for one page to load and typeset its math
PROGRESS_LINE = re.compile(r"\d+%\|")
MAX_PROGRESS_LINES = 25  # per output block; an uncollapsed bar leaves one line per redraw


def toc_pages(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every document of the table of contents (root, parts, chapters, sections), in order, without suffix."""
    toc = yaml.safe_load(toc_path.read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return [str(Path(p).with_suffix("")) for p in pages]


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
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        pytest.fail(
            f"`jupyter-book build . -W` failed (exit {result.returncode}) after {elapsed:.0f} s\n"
            f"--- stdout (tail) ---\n{result.stdout[-20000:]}\n--- stderr (tail) ---\n{result.stderr[-20000:]}",
            pytrace=False,
        )
    print(f"book built in {elapsed:.1f} s ({os.environ.get('GIN_SCALE', 'default scale')})")
    return HTML


# ---------------------------------------------------------------------------------------------
# A minimal DevTools-protocol client over Chromium's debugging pipe (fd 3: commands in, fd 4: out)


class Browser:
    """Headless Chromium driven through the DevTools protocol on ``--remote-debugging-pipe``."""

    def __init__(self, executable: str = CHROMIUM):
        if not Path(executable).exists():
            raise FileNotFoundError(f"Chromium not found at {executable}; install Debian's `chromium` package")
        # Two pipes; the child's ends go to descriptors 3 (commands in) and 4 (replies out).
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()
        child_in, child_out = _dup_high(to_child_r), _dup_high(from_child_w)  # above 3 and 4: dup2 cannot clobber
        for fd in (to_child_r, from_child_w):
            os.close(fd)

        def preexec():  # in the child, before exec; dup2 leaves 3 and 4 inheritable
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self._profile = tempfile.mkdtemp(prefix="gin-chromium-")
        self.log_path = Path(self._profile) / "chromium.log"  # a file, so that a chatty browser never blocks
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=preexec,
                close_fds=False,  # Python's own descriptors are non-inheritable (PEP 446); 3 and 4 must survive
            )
        for fd in (child_in, child_out):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # the browser may already be gone; it is killed below either way
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child_w)
        os.close(self._from_child_r)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from Chromium in time")
            ready, _, _ = select.select([self._from_child_r], [], [], remaining)
            if ready:
                chunk = os.read(self._from_child_r, 1 << 20)
                if not chunk:
                    log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                    raise RuntimeError(f"Chromium closed the debugging pipe. Its log ends with:\n{log[-2000:]}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = PAGE_TIMEOUT):
        """Send one command and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout: float = PAGE_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method and event.get("sessionId") == session:
                return event
            self.events.append(event)

    def evaluate(self, expression: str, session: str):
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


def _dup_high(fd: int) -> int:
    """A non-inheritable duplicate of ``fd`` numbered 10 or above."""
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


@pytest.fixture(scope="session")
def browser():
    b = Browser()
    yield b
    b.close()


# ---------------------------------------------------------------------------------------------
# What is checked on each page (runs inside the page)

PAGE_REPORT_JS = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await document.fonts.ready;
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
})()
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


def open_page(browser: Browser, path: Path, screenshot: Path | None = None) -> tuple[dict, list[dict]]:
    """Load an HTML file; return the in-page report and the page's DevTools events.

    With ``screenshot``, a full-page PNG (1280 px wide) is written there.
    """
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Runtime", "Network", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": path.as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired", session)
        report = browser.evaluate(PAGE_REPORT_JS, session)
        if screenshot is not None:
            metrics = browser.send("Page.getLayoutMetrics", session=session)
            height = int(min(metrics["cssContentSize"]["height"], 30000))
            browser.send("Emulation.setDeviceMetricsOverride",
                         {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
            time.sleep(0.3)  # let the resized layout settle before the capture
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
    events = [e for e in browser.events if e.get("sessionId") == session]
    browser.events = [e for e in browser.events if e.get("sessionId") != session]
    return report, events


def page_problems(path: Path, report: dict, events: list[dict]) -> list[str]:
    """Everything wrong with a loaded page, as readable messages (empty when the page is fine)."""
    problems = []
    if report["articleText"] < 200:
        problems.append(f"the page has almost no text ({report['articleText']} characters)")

    # It loads, with no script error, nothing that failed to load, and nothing from the network.
    for e in events:
        if e["method"] == "Runtime.exceptionThrown":
            problems.append(f"JavaScript exception: {_describe_exception(e['params']['exceptionDetails'])}")
        elif e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error":
            problems.append(f"console error: {e['params']['entry']['text']}")
    requested = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in events
                 if e["method"] == "Network.requestWillBeSent"}
    for e in events:
        if e["method"] == "Network.loadingFailed":
            url = requested.get(e["params"]["requestId"], "?")
            problems.append(f"failed to load {url}: {e['params'].get('errorText')}")
    problems += [f"requests a network resource: {url}" for url in sorted(set(requested.values()))
                 if url.startswith(("http:", "https:"))]

    # Figures: every image decoded to a non-empty bitmap and is not a blank file.
    for image in report["images"]:
        if not (image["complete"] and image["width"] > 0 and image["height"] > 0):
            problems.append(f"image not rendered: {image}")
            continue
        source = (path.parent / image["src"]).resolve()
        if source.suffix.lower() == ".png" and source.is_file() and image_is_blank(source):
            problems.append(f"image is blank: {image['src']}")
    if report["figuresWithoutImage"]:
        problems.append(f"{report['figuresWithoutImage']} figures without an image")

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


def _describe_exception(details: dict) -> str:
    exception = details.get("exception", {})
    return f"{details.get('text')} {exception.get('description') or exception.get('value')} at {details.get('url')}:{details.get('lineNumber')}"


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


BROKEN_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head><body><article>
<p>A page with everything the browser check must catch. Raw math $x^2$ that nobody typeset, a table
| a | b |
|---|---|
left as text, an image that does not exist, a citation {cite}`nobody`, and stderr output. This
paragraph is long enough to count as content for the text-length check of the page report.</p>
<span class="math">\\(x\\)</span>
<img src="missing.png" alt="missing">
<div class="output stderr"><pre>UserWarning: something</pre></div>
<div class="cell_output"><pre>train:  10%|#  | 1/10\ntrain:  20%|## | 2/10\n&lt;Figure size 640x480 with 1 Axes&gt;</pre></div>
<pre style="width: 300px; overflow: auto">a line of code that is far too long for its box, a line of code that is far too long for its box</pre>
<script>throw new Error("boom");</script>
</article></body></html>"""


def test_browser_check_catches_a_broken_page(browser, tmp_path):
    """The checks can fail: a page with each kind of defect yields each kind of complaint."""
    path = tmp_path / "broken.html"
    path.write_text(BROKEN_PAGE)
    report, events = open_page(browser, path)
    problems = "\n".join(page_problems(path, report, events))
    for expected in ["JavaScript exception", "failed to load", "image not rendered", "stderr output",
                     "unrendered markup '$'", "unrendered markup '|---'", "unrendered markup '{cite'",
                     "math not typeset", "'<Figure size'", "wider than the page"]:
        assert expected in problems, f"the check missed {expected!r}; it reported:\n{problems}"
