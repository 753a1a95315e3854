"""The learning path in docs/: every chapter's code runs, and every pointer into the code is real.

Each chapter's ```python blocks run in order in one namespace, as a reader would run them. They
are compiled with the chapter's file name and line numbers, so a failure points into the .md file.
"""

import ast
import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROOT = DOCS.parent
CHAPTERS = sorted(DOCS.glob("[0-9][0-9]-*.md"))

# chapter stem -> reason, for chapters whose code depends on parts still being written
XFAIL: dict[str, str] = {}
NEEDS_MNIST = {"06-mnist"}


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


def test_there_are_seven_chapters_in_order_and_the_index_links_them():
    assert [p.name[:2] for p in CHAPTERS] == ["01", "02", "03", "04", "05", "06", "07"]
    index = (DOCS / "README.md").read_text()
    links = re.findall(r"\]\((\d\d-[\w-]+\.md)\)", index)
    assert links == [p.name for p in CHAPTERS]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_code_runs(chapter, tmp_path, monkeypatch):
    if chapter.stem in XFAIL:
        pytest.xfail(XFAIL[chapter.stem])
    if chapter.stem in NEEDS_MNIST and not mnist_available():
        pytest.skip("MNIST not found: set NDGRAD_DATA to a directory with the IDX files")
    blocks = python_blocks(chapter)
    assert blocks, f"{chapter.name} has no ```python blocks"
    assert sum(code.count("assert ") for _, code in blocks) >= 3, "a chapter must check things"
    long = [line for _, code in blocks for line in code.splitlines() if len(line) > 100]
    assert not long, f"code lines over 100 characters: {long}"
    monkeypatch.chdir(tmp_path)  # anything a chapter writes lands in a scratch directory
    namespace: dict = {"__name__": f"docs.{chapter.stem}"}
    for line, code in blocks:
        # pad so that tracebacks show the line numbers of the .md file
        exec(compile("\n" * (line - 1) + code, str(chapter), "exec"), namespace)


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
    for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
        assert (DOCS / target).is_file(), f"{page.name} links to missing {target}"
