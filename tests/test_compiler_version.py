"""ndgrad.compiler and ndgrad.version answer as torch's do for an eager CPU build."""

from __future__ import annotations

import importlib.metadata
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad


def test_version_module_as_torch() -> None:
    assert sorted(ndgrad.version.__all__) == sorted(torch.version.__all__)
    assert ndgrad.version.cuda is None and torch.version.cuda is None  # a CPU build
    assert ndgrad.version.hip is None and ndgrad.version.debug is False
    assert ndgrad.__version__ == ndgrad.version.__version__
    assert importlib.metadata.version("ndgrad") == ndgrad.__version__  # pyproject reads it


def test_compiler_has_torch_eager_entry_points() -> None:
    for name in ndgrad.compiler.__all__:
        assert hasattr(torch.compiler, name), name
    assert ndgrad.compiler.is_compiling() is torch.compiler.is_compiling() is False
    assert ndgrad.compiler.is_dynamo_compiling() is False
    assert ndgrad.compiler.is_exporting() is torch.compiler.is_exporting() is False
    assert ndgrad.compiler.compile is ndgrad.compile


@pytest.mark.parametrize("decorator", ["disable", "nested_compile_region"])
def test_decorators_with_and_without_arguments(decorator: str) -> None:
    def f(x: ndgrad.Tensor) -> ndgrad.Tensor:
        return x * 2

    deco = getattr(ndgrad.compiler, decorator)
    assert deco(f) is f
    assert deco()(f) is f
    x = ndgrad.ones(3)
    assert np.array_equal(ndgrad.compile(deco(f))(x).numpy(), [2, 2, 2])


def test_allow_in_graph_and_friends_return_the_function() -> None:
    def f(x: ndgrad.Tensor) -> ndgrad.Tensor:
        return x + 1
    assert ndgrad.compiler.allow_in_graph(f) is f
    assert ndgrad.compiler.assume_constant_result(f) is f
    assert ndgrad.compiler.substitute_in_graph(abs)(f) is f
    with pytest.raises(TypeError, match="expects a function"):
        ndgrad.compiler.substitute_in_graph(3)  # type: ignore[arg-type]
    assert ndgrad.compiler.reset() is None
    assert ndgrad.compiler.cudagraph_mark_step_begin() is None
    assert ndgrad.compiler.list_backends() == []


def test_set_stance_as_call_context_and_decorator() -> None:
    from ndgrad.compiler import _stance
    ndgrad.compiler.set_stance("force_eager")
    assert _stance[0] == "force_eager"
    ndgrad.compiler.set_stance("default")
    with ndgrad.compiler.set_stance("force_eager"):
        assert _stance[0] == "force_eager"
    assert _stance[0] == "default"

    @ndgrad.compiler.set_stance("eager_on_recompile")
    def g() -> str:
        return _stance[0]
    assert _stance[0] == "default"  # decorating leaves the stance as it was, as torch's
    assert g() == "eager_on_recompile" and _stance[0] == "default"


def test_wrap_numpy_converts_as_torch_eager() -> None:
    Pair = namedtuple("Pair", "total shifted")

    def f(a: np.ndarray, scale: float = 1.0) -> tuple:
        return Pair(np.sum(a * a) * scale, [a + 1, {"k": a.T}])

    x = np.arange(6.0).reshape(2, 3)
    ours = ndgrad.compiler.wrap_numpy(f)(ndgrad.from_numpy(x), scale=2.0)
    theirs = torch.compiler.wrap_numpy(f)(torch.from_numpy(x), scale=2.0)
    assert isinstance(ours, Pair) and isinstance(theirs, Pair)
    assert type(ours.total) is type(theirs.total) and ours.total == theirs.total
    assert isinstance(ours.shifted[0], ndgrad.Tensor)
    assert np.array_equal(ours.shifted[0].numpy(), theirs.shifted[0].numpy())
    assert np.array_equal(ours.shifted[1]["k"].numpy(), theirs.shifted[1]["k"].numpy())
    with pytest.raises(RuntimeError, match="requires grad"):
        ndgrad.compiler.wrap_numpy(f)(ndgrad.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="requires grad"):
        torch.compiler.wrap_numpy(f)(torch.ones(2, requires_grad=True))


def test_utils_submodules_torch_loads_are_there_after_import() -> None:
    """torch.utils.checkpoint and collect_env work after a bare ``import torch``; so do
    ndgrad's (checked in a fresh interpreter, where no test imported them first)."""
    import subprocess
    import sys
    import types
    code = ("import ndgrad, torch\n"
            "assert ndgrad._dynamo.eval_frame.OptimizedModule.__name__ == 'OptimizedModule'\n"
            "for name in ('checkpoint', 'collect_env'):\n"
            "    assert hasattr(torch.utils, name)\n"
            "    print(getattr(ndgrad.utils, name).__name__)\n"
            "assert callable(ndgrad.utils.checkpoint.checkpoint)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["ndgrad.utils.checkpoint", "ndgrad.utils.collect_env"]
    assert isinstance(ndgrad.utils.checkpoint, types.ModuleType)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        ndgrad.utils.nonexistent  # noqa: B018


def _run(check: str, lib: str) -> None:
    """``check(lib)`` of this file: in this process for ndgrad, in a new interpreter for torch,
    whose first compile() patches torch for good (it turns off torch.distributions' argument
    validation, for one), which would change what later tests in this process see of torch."""
    if lib == "ndgrad":
        globals()[check](ndgrad)
        return
    import subprocess
    import sys
    from pathlib import Path
    here = Path(__file__).parent
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(here)!r}); "
                    f"import torch, test_compiler_version as t; t.{check}(torch)"],
                   check=True, cwd=here.parent)


@pytest.mark.parametrize("lib", ["ndgrad", "torch"])
def test_compile_wraps_a_module_as_torch_does(lib: str) -> None:
    """compile(module) is torch's OptimizedModule on both libraries: _orig_mod, prefixed
    state_dict keys, the same parameters, attributes and mode shared with the original."""
    _run("_compile_wraps_a_module", lib)


def _compile_wraps_a_module(mod: Any) -> None:
    m = mod.nn.Sequential(mod.nn.Linear(3, 2), mod.nn.ReLU())
    c = mod.compile(m)
    assert type(c).__name__ == "OptimizedModule" and c._orig_mod is m
    assert isinstance(c, mod._dynamo.eval_frame.OptimizedModule)
    assert list(c.state_dict()) == ["_orig_mod.0.weight", "_orig_mod.0.bias"]
    assert [p is q for p, q in zip(c.parameters(), m.parameters())] == [True, True]
    m.tag = "mlp"
    assert c.tag == "mlp" and len(c) == 2  # reads go to the original
    c.extra = 5
    assert m.extra == 5 and "extra" not in c.__dict__  # and so do writes
    c.eval()
    assert not m.training and not c.training
    m.train()
    assert c.training
    calls = []
    m.register_forward_hook(lambda *a: calls.append(1))
    x = mod.ones(4, 3)
    assert mod.equal(c(x), m(x))
    assert calls == [1, 1]  # the original's hooks run
    c.load_state_dict(c.state_dict())
    assert mod.compile(m, disable=True) is m
    assert "OptimizedModule(\n  (_orig_mod): Sequential(" in repr(c)


@pytest.mark.parametrize("lib", ["ndgrad", "torch"])
def test_module_compile_in_place(lib: str) -> None:
    """model.compile() (torch 2.2's in-place form) returns None and leaves the module, its
    type and its state_dict keys as they were; it takes compile's arguments."""
    _run("_module_compile_in_place", lib)


def _module_compile_in_place(mod: Any) -> None:
    m = mod.nn.Linear(3, 2)
    assert m.compile(mode="reduce-overhead", dynamic=False) is None
    assert type(m).__name__ == "Linear" and list(m.state_dict()) == ["weight", "bias"]
    x = mod.ones(1, 3)
    assert mod.equal(m(x), x @ m.weight.T + m.bias)
    with pytest.raises(TypeError, match="positional"):
        m.compile(1, 2)


def test_torch_validation_is_untouched_here() -> None:
    """The torch-side compile checks ran elsewhere: torch.distributions still validates."""
    assert torch.distributions.Distribution._validate_args is True
