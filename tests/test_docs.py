"""The learning path in docs/: every chapter's code runs, and every pointer into the code is real.

The docs tell readers to paste each chapter's ```python blocks into a Python prompt, one after
another, so that is how the test runs them: in a real interactive interpreter (``python -i``) in
a subprocess, where a blank line inside a function body or a missing blank line after a loop
breaks the code just as it would for the reader. A failure names the block's line in the .md file.
"""

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROOT = DOCS.parent
CHAPTERS = sorted(DOCS.glob("[0-9][0-9]-*.md"))

# chapter stem -> reason, for chapters whose code depends on parts still being written
XFAIL: dict[str, str] = {}
NEEDS_MNIST = {"10-mini-mnist", "11-mnist"}
SLOW = {"10-mini-mnist"}  # trains for three epochs: run with the slow tests


def chapter_params() -> list:
    return [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else [])
            for p in CHAPTERS]


def mnist_available() -> bool:
    """MNIST found locally (NDGRAD_DATA or the download cache), without downloading."""
    from ndgrad.datasets import MNIST, DatasetFileError

    try:
        MNIST(root=os.environ.get("NDGRAD_DATA"), train=False, download=False)
    except DatasetFileError:
        return False
    return True


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number of the first code line, code) for every ```python block."""
    text = path.read_text()
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```", text, re.M | re.S):
        blocks.append((text.count("\n", 0, m.start(1)) + 1, m.group(1)))
    return blocks


def test_chapters_are_numbered_in_order_and_the_index_links_them():
    assert [int(p.name[:2]) for p in CHAPTERS] == list(range(1, len(CHAPTERS) + 1))
    index = (DOCS / "README.md").read_text()
    links = re.findall(r"\]\((\d\d-[\w-]+\.md)\)", index)
    assert links == [p.name for p in CHAPTERS]
    for p in CHAPTERS:  # each title carries its number, and each chapter links the next
        assert p.read_text().startswith(f"# {int(p.name[:2])}. "), p.name
    for p, following in zip(CHAPTERS, CHAPTERS[1:]):
        assert f"]({following.name})" in p.read_text().split("\n## ")[-1], p.name


def run_in_repl(blocks: list[tuple[int, str]], cwd: Path) -> list[str]:
    """Paste the blocks, one after another, into a real interactive Python prompt (``python -i``,
    which reads its input line by line as the REPL does when code is pasted into it) and return
    what the prompt printed for each block. A blank line ends any open ``def``/``for``/``with``,
    as when a reader presses Enter after pasting; then a marker is printed."""
    source = "".join(code.rstrip("\n") + f"\n\nprint({MARK!r}, {i})\n"
                     for i, (_, code) in enumerate(blocks))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's ndgrad, wherever pytest runs
    proc = subprocess.run([sys.executable, "-u", "-i", "-q"], input=source, text=True, cwd=cwd,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    printed = re.sub(r"^(?:(?:>>>|\.\.\.) )+", "", proc.stdout, flags=re.M)  # drop prompts
    return re.split(rf"^{MARK} \d+$", printed, flags=re.M)[:len(blocks)]


MARK = "@@ndgrad-docs-block"
# what the prompt prints for an exception: a traceback, or a bare SyntaxError/IndentationError
ERROR = re.compile(r"^(Traceback \(most recent call last\)|(\w+\.)*\w+(Error|Exception|Exit)\b)",
                   re.M)


def check_blocks_paste(path: Path, cwd: Path) -> None:
    """Every ```python block of the page runs when pasted into the prompt, in order."""
    blocks = python_blocks(path)
    outputs = run_in_repl(blocks, cwd)
    assert len(outputs) == len(blocks), f"the prompt stopped early:\n{outputs[-1][-3000:]}"
    failed = [f"the block at {path.name}:{line} failed:\n{out[-2000:]}"
              for (line, _), out in zip(blocks, outputs) if ERROR.search(out)]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("chapter", chapter_params())
def test_chapter_code_runs_pasted_into_a_python_prompt(chapter, tmp_path):
    if chapter.stem in XFAIL:
        pytest.xfail(XFAIL[chapter.stem])
    if chapter.stem in NEEDS_MNIST and not mnist_available():
        pytest.skip("MNIST not found: set NDGRAD_DATA to a directory with the IDX files")
    blocks = python_blocks(chapter)
    assert blocks, f"{chapter.name} has no ```python blocks"
    assert sum(code.count("assert ") for _, code in blocks) >= 3, "a chapter must check things"
    long = [line for _, code in blocks for line in code.splitlines() if len(line) > 100]
    assert not long, f"code lines over 100 characters: {long}"
    check_blocks_paste(chapter, tmp_path)  # anything a chapter writes lands in a scratch dir


def test_the_prompt_check_catches_what_a_prompt_rejects(tmp_path):
    """The three ways pasted code fails: a dedented line right after an indented block, a blank
    line inside a function or class, and an ordinary exception."""
    page = tmp_path / "page.md"
    for code in ["for i in range(2):\n    pass\nassert True\n",
                 "class A:\n    def f(self):\n        return 1\n\n    def g(self):\n"
                 "        return 2\n",
                 "assert 1 == 2\n"]:
        page.write_text(f"```python\nx = 1\n```\n\n```python\n{code}```\n")
        with pytest.raises(AssertionError, match="page.md:6 failed"):
            check_blocks_paste(page, tmp_path)
    page.write_text("```python\nfor i in range(2):\n    pass\n\nassert i == 1\n```\n")
    check_blocks_paste(page, tmp_path)


def load_generator():
    """docs/generate.py, which makes the notebooks and scripts with jupytext."""
    pytest.importorskip("jupytext", reason="the docs extra has jupytext: pip install -e '.[docs]'")
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_and_scripts_match_their_chapters():
    generate = load_generator()
    for chapter in CHAPTERS:
        for path, text in generate.generated(chapter).items():
            assert path.is_file() and path.read_text() == text, (
                f"{path.relative_to(ROOT)} is out of date: run python docs/generate.py")
    assert generate.main(check=True) == 0  # and nothing is left from a removed chapter


def runnable_params(fast: set[str]) -> list:
    """Chapter 1 in the fast tests (it proves the machinery); the rest with the slow tests."""
    return [pytest.param(p, id=p.stem, marks=[] if p.stem in fast else [pytest.mark.slow])
            for p in CHAPTERS]


# Chapters whose notebook is not run a second time: its code cells are the chapter's ```python
# blocks, character for character (checked here), and test_chapter_code_runs_pasted_into_a_
# python_prompt runs those; the other chapters' notebooks prove that a kernel runs notebooks.
# 10-mini-mnist trains for three epochs, a minute spent again on the same code.
PROMPT_RUN_ONLY = {"10-mini-mnist"}


@pytest.mark.parametrize("chapter", runnable_params({"01-derivatives"}))
def test_notebook_runs(chapter, tmp_path, monkeypatch):
    pytest.importorskip("ipykernel", reason="running notebooks needs the docs extra")
    nbclient = pytest.importorskip("nbclient", reason="running notebooks needs the docs extra")
    import nbformat

    notebook = nbformat.read(DOCS / "notebooks" / f"{chapter.stem}.ipynb", as_version=4)
    if chapter.stem in PROMPT_RUN_ONLY:
        cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
        assert cells == [code.rstrip("\n") for _, code in python_blocks(chapter)]
        return
    if chapter.stem in NEEDS_MNIST and not mnist_available():
        pytest.skip("MNIST not found: set NDGRAD_DATA to a directory with the IDX files")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's ndgrad
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]


@pytest.mark.parametrize("chapter", [p for p in CHAPTERS if p.stem == "01-derivatives"],
                         ids=lambda p: p.stem)
def test_script_runs(chapter, tmp_path):
    """The scripts are the chapters' code as jupytext writes it (test_notebooks_and_scripts_
    match_their_chapters checks they are current): running one proves the format; the code
    itself runs in the prompt and as a notebook."""
    if chapter.stem in NEEDS_MNIST and not mnist_available():
        pytest.skip("MNIST not found: set NDGRAD_DATA to a directory with the IDX files")
    script = DOCS / "scripts" / f"{chapter.stem}.py"
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _defined_names(path: Path) -> set[str]:
    """Top-level functions and classes of a module, and Class.method for their methods."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(f"{node.name}.{n.name}" for n in node.body
                         if isinstance(n, ast.FunctionDef))
        if isinstance(node, ast.Assign | ast.AnnAssign):  # e.g. a module-level alias
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_points_at_real_code(chapter):
    text = chapter.read_text()
    pointers = re.findall(r"`(ndgrad/[\w/]+\.py)(?:::([\w.]+))?`", text)
    assert pointers, f"{chapter.name} should say where its ideas live in ndgrad's source"
    for path, name in pointers:
        assert (ROOT / path).is_file(), f"{chapter.name} points at missing file {path}"
        if name:
            assert name in _defined_names(ROOT / path), f"{chapter.name}: no {name} in {path}"


@pytest.mark.parametrize("page", [*CHAPTERS, DOCS / "README.md"], ids=lambda p: p.stem)
def test_local_links_and_images_exist(page):
    prose = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)  # not code
    for target in re.findall(r"\]\(([^)#:]+)\)", prose):
        assert (DOCS / target).is_file(), f"{page.name} links to missing {target}"
