"""``OptimizedModule``: what ``ndgrad.compile(module)`` returns, shaped as torch's.

torch wraps a compiled module in an ``OptimizedModule`` that holds the original as the
submodule ``_orig_mod``, so programs written for it read ``model._orig_mod``, and checkpoints
saved from it have ``_orig_mod.``-prefixed keys (which programs strip when loading). ndgrad
compiles nothing, so the wrapper only forwards: calling it calls the original module (its
hooks included), and attributes are read from and written to the original, as in torch.
"""

from __future__ import annotations

from typing import Any

from ndgrad.nn.module import Module


class OptimizedModule(Module):
    """``module`` behind torch's compiled-module wrapper: same parameters, same results."""

    # attributes the wrapper keeps itself; every other one lives on the original (as torch's)
    _opt_mod_attributes = frozenset({"_orig_mod", "forward", "__dict__",
                                     "_super_module_initialized"})

    def __init__(self, mod: Module) -> None:
        object.__setattr__(self, "_orig_mod", mod)  # attribute reads go to it from the start
        object.__setattr__(self, "_super_module_initialized", False)
        super().__init__()
        object.__setattr__(self, "_super_module_initialized", True)
        del self.__dict__["_orig_mod"]
        self._modules["_orig_mod"] = mod  # a submodule: state_dict keys get its prefix
        self.forward = mod.__call__  # type: ignore[method-assign]  # calling the wrapper runs the original, its hooks too

    @property  # type: ignore[override]
    def training(self) -> bool:
        return bool(self._orig_mod.training)

    @training.setter
    def training(self, value: bool) -> None:
        # Module.__init__ sets the default; the wrapper mirrors the original's mode
        if self.__dict__.get("_super_module_initialized"):
            self._orig_mod.training = value

    def __len__(self) -> int:
        if hasattr(type(self._orig_mod), "__len__"):
            return len(self._orig_mod)  # type: ignore[arg-type]
        raise TypeError(f"{type(self._orig_mod).__name__} does not support len()")

    def __getattr__(self, name: str) -> Any:
        if name == "_orig_mod":
            return self.__dict__["_modules"]["_orig_mod"] if "_modules" in self.__dict__ \
                else self.__dict__["_orig_mod"]
        return getattr(self._orig_mod, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(type(self), name) or name in self._opt_mod_attributes:
            super().__setattr__(name, value)
        else:
            setattr(self._orig_mod, name, value)

    def __delattr__(self, name: str) -> None:
        if hasattr(type(self), name) or name in self._opt_mod_attributes:
            super().__delattr__(name)
        else:
            delattr(self._orig_mod, name)

    def __dir__(self) -> list[str]:
        own = dir(self._orig_mod)
        return own + [a for a in super().__dir__() if a not in own]
