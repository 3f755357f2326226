"""The package as a user gets it: a plain (non-editable) install, run from outside the repository.

* ``import gin_core`` pulls in no plotting, scikit-learn, SymPy or Jupyter module;
* the README's Python blocks run as written (the tour's printed line is the one the README shows);
* every ``python -m gin_core...`` command in the README is accepted by its module's parser, and
  every script it names exists;
* the version is written once.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import gin_core

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
HEAVY = ("matplotlib", "sklearn", "sympy", "jupyter", "IPython", "ipykernel", "myst_nb", "nbformat")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """``pip install --no-deps .`` into a fresh folder; the environment that imports from it, outside the repository."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIN_")}
    env.update(PYTHONPATH=str(target), OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    return {"env": env, "cwd": tmp_path_factory.mktemp("elsewhere"), "target": target}


def run_python(installed, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=installed["cwd"],
        env=installed["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"failed:\n{code}\n--- stderr ---\n{result.stderr[-4000:]}"
    return result.stdout


def test_the_plain_install_is_used_and_imports_no_heavy_module(installed):
    out = run_python(
        installed,
        "import sys, gin_core; print(gin_core.__file__); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))",
    )
    path, heavy = out.splitlines()
    assert Path(path).is_relative_to(installed["target"]), f"imported {path}, not the installed copy"
    assert heavy == "[]", f"import gin_core pulled in {heavy}"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_python_blocks_run_outside_the_repository(installed):
    blocks = python_blocks(README)
    assert len(blocks) >= 2, "the README should show the tour and the latent distribution"
    out = run_python(installed, "\n".join(blocks))
    promised = re.search(r"This printed `([^`]+)`", README)
    assert promised, "the README states what the tour printed"
    assert promised.group(1) in out.splitlines(), f"the tour printed {out!r}, the README says {promised.group(1)!r}"


def shell_commands(text: str) -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines += [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    return lines


def check_commands(commands: list[str], where: str) -> int:
    """Each ``python -m gin_core.training|digits`` command parses and each script named exists; returns the parsed count."""
    from gin_core import digits
    from gin_core.training import cli

    parsers = {"gin_core.training": cli.build_parser, "gin_core.digits": digits._parser}
    checked = 0
    for command in commands:
        words = [w for w in shlex.split(command) if "=" not in w or w.startswith("-")]
        for i, word in enumerate(words):
            if word in parsers:
                parsers[word]().parse_args(words[i + 1 :])
                checked += 1
            elif word.endswith((".sh", ".py")) and "/" in word:
                assert (ROOT / word).is_file(), f"{where} names {word}, which does not exist"
    return checked


def test_the_readme_commands_exist_and_parse():
    commands = shell_commands(README)
    assert any("-m pytest" in c for c in commands) and any("build_book.sh" in c for c in commands)
    assert check_commands(commands, "the README") >= 2  # the two training commands


def test_the_running_page_installs_the_book_extra_and_its_commands_parse():
    """book/running.md: the install recipes add the book's extra (the chapters import myst-nb) and fetch the data."""
    page = (ROOT / "book" / "running.md").read_text()
    commands = shell_commands(page)
    assert any("fetch_mnist.sh" in c for c in commands)
    assert check_commands(commands, "book/running.md") >= 1  # the digits info command
    # every install of the package itself, in the page's code blocks, brings the book's extra or follows requirements.txt
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", page, flags=re.S))
    installs = [
        line.strip() for line in code.splitlines() if "pip install" in line and ("-e" in line or "gin[" in line)
    ]
    assert installs, "the page shows how to install the package"
    for line in installs:
        assert "[book]" in line or "--no-deps" in line, f"an install without the book extra: {line}"


def test_the_version_is_written_once():
    hits = [p for p in (ROOT / "gin_core").rglob("*.py") if re.search(r"__version__\s*=", p.read_text())]
    assert hits == [ROOT / "gin_core" / "__init__.py"]
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()
    assert re.fullmatch(r"\d+\.\d+\.\d+", gin_core.__version__)
