"""Chapters run live: JupyterLab in Debian's Chromium shows their figures and key numbers, and no error.

A module fixture starts a real JupyterLab server (PyPI's ``jupyterlab``) on 127.0.0.1, on a free
port, with a random token, with ``GIN_SCALE=smoke GIN_DATASET=mnist`` and ``GIN_BOOK_ROOT`` (the
chapters find their data and weights from a temporary folder) in its environment, and with its own
settings, workspace and runtime folders: notebooks are laid out without virtual scrolling (every
cell is in the page), and nothing asks the network for news or updates. Debian's Chromium
(``gin_core.book.settings.chromium()``) is driven by Playwright; nothing downloads a browser.

Each chapter is copied into the server's temporary folder, opened, and run with Run > Run All
Cells; the test waits (bounded) until every cell has run and the kernel is idle, saves the copy
through the File menu and then checks (:func:`live_problems`):

(a) no cell shows an error: no traceback or other stderr output in the page, no error output in the
    saved notebook, and every code cell ran;
(b) every figure the chapter glues is shown, and the page shows as many decoded, non-empty images as
    the chapter displayed (each glued figure, plus any image a cell displays unglued);
(c) every number or text the chapter glues appears in a cell's output as ``<key> = <value>``, with
    the value the book pastes (gin_core.book.show.show_value).

The repository's notebooks are never opened, so they are never saved with outputs. The checker
is also run on a small notebook that glues a figure and a number with ``display=False`` and then
raises: it must report all three, so the check cannot pass for want of looking.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from gin_core.book.settings import chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["gin_from_scratch", "artificial_exp1", "emnist_atlas"]
CHROMIUM = chromium()
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
SERVER_START_TIMEOUT = 90.0  # seconds for JupyterLab to answer
SERVER_STOP_TIMEOUT = 20.0
PAGE_TIMEOUT = 90.0  # seconds for the notebook page and its kernel to be ready
RUN_TIMEOUT = 900.0  # seconds for one chapter to run at smoke scale (about 20 s each on the 2-core machine)
SAVE_TIMEOUT = 30.0
POLL = 1.0
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
GLUE_PREFIX = "application/papermill.record/"  # myst-nb's prefix of a glued output that is not shown
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
# JupyterLab's own settings for the test server: no virtual scrolling, so every cell is in the page; the
# notebook's kernel starts without a "Select Kernel" dialog; no news and no update check, so nothing asks the
# network.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


# ---------------------------------------------------------------------------------------------
# The server and the browser


@dataclass
class Lab:
    url: str
    token: str
    root: Path  # the folder the server serves: the chapters' copies
    log: Path

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.is_file() else "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(process: subprocess.Popen, url: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet (connection refused) or not ready: poll again
            pass
        time.sleep(0.5)
    pytest.fail(
        f"JupyterLab did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{log.read_text(errors='replace')[-4000:]}"
    )


def end_with_this_process() -> None:
    """In the server's process, before it starts: ask Linux to send it SIGTERM when the test process dies.

    The fixture's finalizer stops the server after every normal or failed run; this covers a test
    process that is killed outright (SIGKILL, a CI timeout), which runs no finalizer.
    """
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (JupyterLab then shuts its kernels down), SIGKILL if it is still there."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SERVER_STOP_TIMEOUT)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """A JupyterLab server on 127.0.0.1 serving a temporary folder; always shut down afterwards."""
    base = tmp_path_factory.mktemp("lab")
    root, settings = base / "notebooks", base / "settings"
    root.mkdir()
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = free_port(), os.urandom(24).hex()
    env = {
        **os.environ,
        "GIN_SCALE": "smoke",
        "GIN_DATASET": "mnist",
        "GIN_BOOK_ROOT": str(ROOT),  # the copies live outside book/; data and weights stay where they are
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",  # CI runs as root
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # the default one queries PyPI
    ]
    log = base / "jupyterlab.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=end_with_this_process if sys.platform == "linux" else None,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_server(process, url, token, log)
        yield Lab(url=url, token=token, root=root, log=log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def lab_browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package "
            "(`apt-get install chromium`) or point GIN_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    with sync_playwright() as playwright:  # executable_path only: nothing downloads a browser
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


# ---------------------------------------------------------------------------------------------
# Running a notebook in the page

# The state of the open notebook: every code cell's prompt, outputs (type, text, images) and the kernel.
NOTEBOOK_STATE_JS = r"""
async (decodeTimeout) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  const images = cells.flatMap(c => [...c.querySelectorAll('.jp-OutputArea-output img')]);
  const decoded = Promise.all(images.map(img => img.decode().catch(() => null)));
  await Promise.race([decoded, new Promise(resolve => setTimeout(resolve, decodeTimeout))]);
  return {
    kernel: panel.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') ?? null,
    kernelName: (panel.querySelector('.jp-KernelName')?.innerText ?? '').trim(),
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.slice(0, 300)),
    cells: cells.map(cell => ({
      prompt: (cell.querySelector('.jp-InputArea-prompt')?.textContent ?? '').trim(),
      outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
        mime: o.getAttribute('data-mime-type'),
        nested: o.parentElement.closest('.jp-OutputArea-output') !== null,
        text: o.innerText,
        images: [...o.querySelectorAll('img')].map(img => ({
          complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
          widget: img.closest('.jupyter-widgets, .widget-output') !== null})),
      })),
    })),
  };
}
"""


def _rendered(image: dict) -> bool:
    return image["complete"] and image["width"] > 0 and image["height"] > 0


def notebook_state(page: Page) -> dict | None:
    return page.evaluate(NOTEBOOK_STATE_JS, 10_000)


def click_menu(page: Page, menu: str, command: str) -> None:
    page.click(f"#jp-MainMenu .lm-MenuBar-item:has-text('{menu}')")
    page.click(f".lm-Menu-item[data-command='{command}']")


def wait_until(condition, timeout: float, what: str, describe=lambda: ""):
    """Poll ``condition`` until it returns a true value (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}. {describe()}", pytrace=False)
        time.sleep(POLL)


def finished(state: dict | None) -> bool:
    """Run All is over: the kernel is idle, no cell is running or queued, and the first cell ran."""
    if not state or state["kernel"] != "idle" or not state["cells"]:
        return False
    prompts = [cell["prompt"] for cell in state["cells"]]
    return "[*]:" not in prompts and prompts[0] not in ("[ ]:", "")


@dataclass
class LiveRun:
    """What a notebook showed in JupyterLab after Run All, and what it saved."""

    state: dict  # NOTEBOOK_STATE_JS after the run
    saved: dict  # the notebook as JupyterLab saved it (nbformat JSON)
    seconds: float
    problems: list[str] = field(default_factory=list)


def run_live(browser: Browser, lab: Lab, notebook: Path) -> LiveRun:
    """Copy ``notebook`` into the server's folder, run all its cells in the page, save it, check it."""
    copy = lab.root / notebook.name
    shutil.copyfile(notebook, copy)
    before = copy.stat().st_mtime_ns
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT * 1000)
        page.goto(f"{lab.url}/lab/tree/{copy.name}?token={lab.token}&reset", wait_until="load")
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell")
        ready: list[dict | None] = [None]

        def kernel_ready():
            ready[0] = notebook_state(page)
            return ready[0] and ready[0]["kernel"] == "idle" and ready[0]["kernelName"] not in ("", "No Kernel")

        wait_until(
            kernel_ready,
            PAGE_TIMEOUT,
            f"the kernel of {copy.name} to start",
            lambda: (
                f"state: {ready[0] and {k: ready[0][k] for k in ('kernel', 'kernelName', 'dialogs')}}\n{lab.log_tail()}"
            ),
        )
        started = time.monotonic()
        click_menu(page, "Run", "runmenu:run-all")
        last: list[dict | None] = [None]

        def done():
            last[0] = notebook_state(page)
            return finished(last[0])

        def running():
            prompts = [cell["prompt"] for cell in (last[0] or {}).get("cells", [])]
            return f"prompts: {prompts}; kernel: {(last[0] or {}).get('kernel')}; dialogs: {(last[0] or {}).get('dialogs')}"

        wait_until(done, RUN_TIMEOUT, f"{copy.name} to run", running)
        seconds = time.monotonic() - started
        time.sleep(POLL)  # let the last outputs render, then read the settled page
        state = notebook_state(page)
        click_menu(page, "File", "docmanager:save")

        def saved_run():  # the copy as saved after the run (the server writes it atomically)
            if copy.stat().st_mtime_ns == before:
                return None
            notebook = json.loads(copy.read_text(encoding="utf-8"))
            ran = any(c.get("execution_count") for c in notebook["cells"] if c["cell_type"] == "code")
            return notebook if ran else None

        saved = wait_until(saved_run, SAVE_TIMEOUT, f"JupyterLab to save {copy.name} with its outputs")
    finally:
        context.close()
    run = LiveRun(state=state, saved=saved, seconds=seconds)
    run.problems = live_problems(run)
    return run


# ---------------------------------------------------------------------------------------------
# What a live run must show


def pasted_text(text_plain: str) -> str:
    """The text the book pastes for a glued ``text/plain`` (quotes removed), as show_value prints it."""
    try:
        return str(ast.literal_eval(text_plain))
    except (SyntaxError, ValueError):
        return text_plain


def glued_outputs(saved: dict) -> list[tuple[str, dict]]:
    """(key, output) of every glued output of a saved notebook."""
    return [
        (output["metadata"]["scrapbook"]["name"], output)
        for cell in saved["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if "scrapbook" in output.get("metadata", {})
    ]


def live_problems(run: LiveRun) -> list[str]:
    """Everything a live reader would miss or trip over, as readable messages (empty: nothing)."""
    problems = []
    state, saved = run.state, run.saved
    code = [cell for cell in saved["cells"] if cell["cell_type"] == "code"]
    if len(code) != len(state["cells"]):
        problems.append(f"the page shows {len(state['cells'])} code cells, the notebook has {len(code)}")
    problems += [f"a dialog is open: {text}" for text in state["dialogs"]]

    # (a) no error: no stderr output or traceback in the page, no error output, every cell ran
    for number, cell in enumerate(state["cells"], start=1):
        for output in cell["outputs"]:
            if output["mime"] == "application/vnd.jupyter.stderr":
                problems.append(f"code cell {number} shows an error or stderr output: {output['text'][-600:]}")
    for number, cell in enumerate(code, start=1):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(f"code cell {number} raised {output['ename']}: {output['evalue']}")
    not_run = [n for n, cell in enumerate(code, start=1) if cell.get("execution_count") is None]
    if not_run:
        problems.append(f"{len(not_run)} code cells did not run (cells {not_run})")

    # (b) every glued figure is shown, and the page shows each displayed image, decoded and non-empty
    glued = glued_outputs(saved)
    glued_figures = [(key, o) for key, o in glued if any(m.removeprefix(GLUE_PREFIX) in IMAGE_TYPES for m in o["data"])]
    problems += [
        f"figure {key} is glued but not shown (glued with display=False; use show_figure)"
        for key, output in glued_figures
        if output["metadata"]["scrapbook"].get("mime_prefix")
    ]
    displayed = [
        output
        for cell in code
        for output in cell.get("outputs", [])
        if any(m in IMAGE_TYPES for m in output.get("data", {}))
    ]
    outputs = [output for cell in state["cells"] for output in cell["outputs"]]
    every = [image for output in outputs for image in output["images"]]
    problems += [f"an image did not render: {image}" for image in every if not _rendered(image)]
    # a widget (the atlas slider) draws its own images inside its view; they are not cell outputs of the
    # notebook, so only the images of top-level, non-widget outputs are counted against the displayed ones
    top = [o for o in outputs if not o["nested"] and o["mime"] != WIDGET_MIME]
    rendered = [image for output in top for image in output["images"] if _rendered(image) and not image["widget"]]
    if len(rendered) != len(displayed):
        problems.append(
            f"the page shows {len(rendered)} rendered images, but the cells displayed {len(displayed)} "
            f"({len(glued_figures)} glued figures)"
        )

    # (c) every glued number or text appears as "<key> = <value>" in the cells' outputs
    page_text = "\n".join(o["text"] for cell in state["cells"] for o in cell["outputs"])
    for key, output in glued:
        if (key, output) in glued_figures:
            continue
        text = output["data"].get(output["metadata"]["scrapbook"].get("mime_prefix", "") + "text/plain")
        expected = f"{key} = {pasted_text(text)}" if text is not None else f"{key} = "
        if expected not in page_text:
            problems.append(f"glued value {key} is not shown (expected the line {expected[:120]!r})")
    return problems


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_live_and_shows_its_figures_and_numbers(lab, lab_browser, mnist_root, chapter):
    run = run_live(lab_browser, lab, ROOT / "book" / f"{chapter}.ipynb")
    glued = glued_outputs(run.saved)
    figures = sum(key.startswith("fig-") for key, _ in glued)
    print(
        f"{chapter}: ran in {run.seconds:.0f} s in JupyterLab; {figures} figures, {len(glued) - figures} values shown"
    )
    assert not run.problems, f"{chapter} run live in JupyterLab:\n" + "\n".join(run.problems)
    assert figures >= 1 and len(glued) > figures, f"{chapter} glued {figures} figures and {len(glued) - figures} values"


SILENT_CHAPTER = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "silent-glue",
            "metadata": {},
            "outputs": [],
            "source": (
                "import matplotlib.pyplot as plt\n"
                "from myst_nb import glue\n"
                "fig, ax = plt.subplots()\n"
                "ax.plot([0, 1], [0, 1])\n"
                'glue("fig-silent", fig, display=False)\n'
                "plt.close(fig)\n"
                'glue("silent-number", 0.125, display=False)'
            ),
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "raises",
            "metadata": {},
            "outputs": [],
            "source": 'raise RuntimeError("a synthetic failure")',
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "never-runs",
            "metadata": {},
            "outputs": [],
            "source": 'print("after the failure")',
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_the_live_check_fails_on_a_chapter_that_glues_without_showing(lab, lab_browser, tmp_path):
    path = tmp_path / "silent_chapter.ipynb"
    path.write_text(json.dumps(SILENT_CHAPTER))
    problems = "\n".join(run_live(lab_browser, lab, path).problems)
    for expected in [
        "figure fig-silent is glued but not shown",
        "glued value silent-number is not shown",
        "code cell 2 raised RuntimeError: a synthetic failure",
        "code cell 2 shows an error or stderr output",
        "1 code cells did not run (cells [3])",
    ]:
        assert expected in problems, f"the live check missed {expected!r}; it reported:\n{problems}"
