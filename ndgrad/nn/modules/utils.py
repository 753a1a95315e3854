"""torch.nn.modules.utils: the tuple helpers layers use (``_pair(3)`` is ``(3, 3)``), which
third-party layers import from here."""

from ndgrad.nn.modules._utils import (
    _list_with_default,
    _ntuple,
    _pair,
    _quadruple,
    _reverse_repeat_tuple,
    _single,
    _triple,
)

__all__ = ["_list_with_default", "_ntuple", "_pair", "_quadruple", "_reverse_repeat_tuple",
           "_single", "_triple"]
