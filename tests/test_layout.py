"""The shape of the house (shared/DESIGN.md): imports point one way, no module-level import
cycle, every module imports on its own, no file holds two ideas (~800 lines)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "ndgrad"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


MODULES = _modules()


def _top_level_imports(path: Path, name: str) -> set[str]:
    """ndgrad modules imported when this module runs: module-level statements only (not inside
    functions, not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(target: str) -> None:
        if target in MODULES:
            found.add(target)
        elif target.rsplit(".", 1)[0] in MODULES:
            found.add(target.rsplit(".", 1)[0])

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("ndgrad"):
                        resolve(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = name if is_pkg else name.rsplit(".", 1)[0]
                    for _ in range(node.level - 1):
                        pkg = pkg.rsplit(".", 1)[0]
                    base = f"{pkg}.{base}" if base else pkg
                if not base.startswith("ndgrad"):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    resolve(sub if sub in MODULES else base)

    visit(tree.body)
    found.discard(name)
    return found


def test_no_module_level_import_cycle():
    graph = {name: _top_level_imports(path, name) for name, path in MODULES.items()}
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
        return None

    for name in sorted(graph):
        if name not in state:
            found = cycle_from(name)
            assert found is None, "import cycle: " + " -> ".join(found)


def test_autograd_imports_nothing_above_it():
    above = ("ndgrad.tensor", "ndgrad.ops", "ndgrad.nn", "ndgrad.optim", "ndgrad.utils.data")
    for name, path in MODULES.items():
        if name.startswith("ndgrad.autograd"):
            bad = [m for m in _top_level_imports(path, name) if m.startswith(above)]
            assert not bad, f"{name} imports {bad}"


# Run in a fresh process for a list of module names, sorted. Importing ``ndgrad.a.b`` first
# runs ``import ndgrad``, then ``import ndgrad.a``, each to its end, before ``ndgrad.a.b``
# itself: so a module that a fresh import of one of its parent packages loads (most of
# ndgrad's, through ``import ndgrad``) is, imported first, exactly that fresh import of the
# parent, which the worker has done. The others each get a fresh start. What each import
# loads is read at run time, so the shortcut follows the package as it changes.
IMPORT_EACH_FRESH = """\
import importlib, sys
names = NAMES
def ours():
    return [k for k in sys.modules if k == 'ndgrad' or k.startswith('ndgrad.')]
assert not ours()
bad, same_as_a_parent = [], set()
for name in ['ndgrad', *(n for n in names if n != 'ndgrad')]:
    if name in same_as_a_parent:
        continue
    for k in ours():
        del sys.modules[k]
    try:
        importlib.import_module(name)
    except Exception as e:
        bad.append(f'{name}: {type(e).__name__}: {e}')
        continue
    same_as_a_parent.update(k for k in ours() if k.startswith(name + '.'))
print('\\n'.join(bad))
sys.exit(1 if bad else 0)
"""


def test_every_module_imports_on_its_own():
    """Each module imported first, in a fresh set of ndgrad modules (a few processes, one per
    core: NumPy and torch-free imports stay loaded in each, so this is fast). A process takes
    whole subpackages (ndgrad.X and everything under it), so that it has imported a module's
    parent packages itself (see IMPORT_EACH_FRESH)."""
    workers = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count() or 1))
    groups: dict[str, list[str]] = {}
    for name in sorted(MODULES):
        groups.setdefault(".".join(name.split(".")[:2]), []).append(name)
    shares: list[list[str]] = [[] for _ in range(workers)]
    for i, group in enumerate(groups.values()):
        shares[i % workers].extend(group)
    assert sorted(n for share in shares for n in share) == sorted(MODULES)
    procs = []
    for share in shares:
        code = IMPORT_EACH_FRESH.replace("NAMES", repr(sorted(share)))
        procs.append(subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    failures = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failures.append(out + err)
    assert not failures, "\n".join(failures)


def test_no_file_holds_two_ideas():
    long = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 800}
    assert not long, f"files over 800 lines: {long}"


def test_no_method_defined_in_two_tensor_parts() -> None:
    """Each Tensor method lives in one part: with two, the earlier part in the class's bases
    silently wins (a real-only ``conj`` once shadowed the complex one)."""
    from ndgrad.tensor.core import Tensor

    owners: dict[str, list[str]] = {}
    for part in Tensor.__mro__[1:]:
        if part.__module__.startswith("ndgrad.tensor.") and part.__name__.endswith("Mixin"):
            for name in vars(part):
                if not (name.startswith("__") and name.endswith("__")) or callable(
                        vars(part)[name]):
                    owners.setdefault(name, []).append(part.__name__)
    twice = {name: parts for name, parts in owners.items() if len(parts) > 1}
    assert not twice, f"defined in more than one part of Tensor: {twice}"
