"""Make each chapter's notebook (docs/notebooks/) and script (docs/scripts/) with jupytext.

The chapters (docs/NN-*.md) are the source; run this after editing one:

    python docs/generate.py

``python docs/generate.py --check`` changes nothing and exits 1 if a generated file is out of
date (tests/test_docs.py does the same check). The output does not depend on the jupytext
version or on the run: no jupytext metadata, and cell ids numbered per chapter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext

DOCS = Path(__file__).resolve().parent
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
          "language_info": {"name": "python"}}


def chapters() -> list[Path]:
    return sorted(DOCS.glob("[0-9][0-9]-*.md"))


def generated(chapter: Path) -> dict[Path, str]:
    """The notebook's and the script's paths and their text, for one chapter."""
    notebook = jupytext.read(chapter, fmt="md")
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"{chapter.stem[:2]}-{i}"
    notebook.metadata = dict(KERNEL)
    ipynb = jupytext.writes(notebook, fmt="ipynb")
    notebook.metadata["jupytext"] = {"notebook_metadata_filter": "-all",
                                     "cell_metadata_filter": "-all"}
    script = jupytext.writes(notebook, fmt="py:percent")
    return {DOCS / "notebooks" / f"{chapter.stem}.ipynb": ipynb,
            DOCS / "scripts" / f"{chapter.stem}.py": script}


def main(check: bool) -> int:
    stale = []
    expected: set[Path] = set()
    for chapter in chapters():
        for path, text in generated(chapter).items():
            expected.add(path)
            if not path.is_file() or path.read_text() != text:
                stale.append(path)
                if not check:
                    path.parent.mkdir(exist_ok=True)
                    path.write_text(text)
    extra = [p for folder in ("notebooks", "scripts") for p in (DOCS / folder).glob("*")
             if p not in expected]  # left behind by a renamed or removed chapter
    for path in extra:
        if not check:
            path.unlink()
    for path in stale + extra:
        print(f"{'out of date' if check else 'wrote'}: {path.relative_to(DOCS.parent)}")
    return 1 if check and (stale or extra) else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv[1:]))
