"""Recurrent layers: RNN, LSTM and GRU over sequences, and their one-step cells.

Parameter names, shapes and gate order are torch's (``weight_ih_l0``, ``bias_hh_l1_reverse``,
``weight_hr_l0`` with ``proj_size``; LSTM gates i, f, g, o; GRU gates r, z, n), so state_dicts
load both ways. Each layer and direction runs as one primitive over the whole sequence
(``ndgrad/ops/rnn.py``): the input projections of all steps are one matmul, and each time step
costs one more matmul and the gate arithmetic, in NumPy.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from ndgrad.nn import init
from ndgrad.nn.functional.native_rnn import run_layers
from ndgrad.nn.module import Module
from ndgrad.nn.modules._utils import empty
from ndgrad.nn.parameter import Parameter
from ndgrad.nn.utils.rnn import PackedSequence
from ndgrad.ops.rnn import GRUScan, LSTMScan, RNNScan
from ndgrad.tensor import Tensor
from ndgrad.tensor.creation import zeros

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNBase(Module):
    """What RNN, LSTM and GRU share: torch's parameters (one set per layer and direction),
    argument checks, and the layer loop over packed, padded or unbatched input."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):  # type: ignore[operator]
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:  # type: ignore[operator]
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        checks: list[tuple[str, Any, type]] = [
            ("bias", bias, bool), ("batch_first", batch_first, bool),
            ("input_size", input_size, int), ("hidden_size", hidden_size, int)]
        for arg, value, kind in checks:
            if not isinstance(value, kind):
                raise TypeError(f"{arg} should be of type {kind.__name__}, got: "
                                f"{type(value).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)

        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes: list[tuple[str, tuple[int, ...]]] = [
                    ("weight_ih", (gate_size, layer_input)),
                    ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for prefix, shape in shapes:
                    name = f"{prefix}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(shape, device, dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list[Parameter | None]:
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in torch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op, as in torch on the CPU (cuDNN packs weights into one buffer; NumPy has no
        use for that)."""

    def reset_parameters(self) -> None:
        """torch's init: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # -- checks, with torch's messages ---------------------------------------------------------
    def check_input(self, input: Tensor, batch_sizes: Any) -> None:
        w = self._flat_weights[0]
        if w is not None and input.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({w.dtype}). Convert input: input.to({w.dtype}), or convert "
                             f"model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Any) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        directions = 2 if self.bidirectional else 1
        hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * directions, mini_batch, hidden)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple[int, int, int],
                          msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.size()) != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input: Tensor, hidden: Any, batch_sizes: Any) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Any, permutation: Tensor | None) -> Any:
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # -- the forward pass ------------------------------------------------------------------
    def _unpack_input(self, input: Any) -> tuple[Tensor, tuple[int, ...], Any, bool]:
        """(rows (N, I) time-major, batch sizes, the original input, whether batched)."""
        if isinstance(input, PackedSequence):
            return input.data, tuple(int(b) for b in input.batch_sizes._data), input, True
        if input.dim() not in (2, 3):
            what = "" if self.mode == "LSTM" else " tensor"  # torch's two wordings
            raise ValueError(f"{self._get_name()}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D{what} instead")
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        x = input.transpose(0, 1) if self.batch_first else input
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        return x.reshape(steps * batch, x.shape[2]), (batch,) * steps, input, batched

    def _zeros(self, batch: int, size: int, like: Tensor) -> Tensor:
        directions = 2 if self.bidirectional else 1
        return zeros(self.num_layers * directions, batch, size, dtype=like.dtype)

    def _run(self, rows: Tensor, batch_sizes: tuple[int, ...], h0: Tensor,
             c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """Every layer and direction over the packed rows: (last layer's rows, h_n, c_n)."""
        return run_layers(self.mode.lower(), rows, batch_sizes, h0, c0, self.all_weights,
                          self.bias, self.proj_size > 0, 2 if self.bidirectional else 1,
                          self.dropout if self.training else 0.0)

    def _output(self, out: Tensor, batch_sizes: tuple[int, ...], orig: Any, batched: bool) -> Any:
        """The last layer's rows in the input's form: packed, (T, B, F), (B, T, F) or (T, F)."""
        if isinstance(orig, PackedSequence):
            return PackedSequence(out, orig.batch_sizes, orig.sorted_indices,
                                  orig.unsorted_indices)
        out = out.reshape(len(batch_sizes), batch_sizes[0], out.shape[-1])
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
        return out

    def _forward_single_state(self, input: Any, hx: Tensor | None) -> tuple[Any, Tensor]:
        """RNN and GRU: one state tensor."""
        rows, batch_sizes, orig, batched = self._unpack_input(input)
        packed = isinstance(orig, PackedSequence)
        if hx is not None and not packed:
            if not batched and hx.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got "
                                   f"{hx.dim()}-D tensor")
            if batched and hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                   f"{hx.dim()}-D tensor")
            if not batched:
                hx = hx.unsqueeze(1)
        if hx is None:
            hx = self._zeros(batch_sizes[0], self.hidden_size, rows)
        elif packed:
            hx = self.permute_hidden(hx, orig.sorted_indices)
        self.check_forward_args(rows if packed else orig, hx, batch_sizes if packed else None)
        out, h_n, _ = self._run(rows, batch_sizes, hx, None)
        if packed:
            h_n = self.permute_hidden(h_n, orig.unsorted_indices)
        elif not batched:
            h_n = h_n.squeeze(1)
        return self._output(out, batch_sizes, orig, batched), h_n


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), per layer.

    Input (L, N, H_in) ((N, L, H_in) with batch_first, (L, H_in) unbatched, or a
    PackedSequence); returns (output of the last layer at every step, h_n)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple[Any, Tensor]:
        return self._forward_single_state(input, hx)


class GRU(RNNBase):
    """GRU, torch's gates (r, z, n): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h_t = (1 - z) * n + z * h_{t-1}. Returns (output, h_n) as RNN does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple[Any, Tensor]:
        return self._forward_single_state(input, hx)


class LSTM(RNNBase):
    """LSTM, torch's gates (i, f, g, o): c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t)
    (projected to proj_size by W_hr if proj_size > 0). Returns (output, (h_n, c_n))."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Any) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        directions = 2 if self.bidirectional else 1
        return (self.num_layers * directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden: Any, batch_sizes: Any) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx: Any, permutation: Tensor | None) -> Any:
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def forward(self, input: Any, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Any, Any]:
        rows, batch_sizes, orig, batched = self._unpack_input(input)
        packed = isinstance(orig, PackedSequence)
        if hx is None:
            real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
            hx = (self._zeros(batch_sizes[0], real_hidden, rows),
                  self._zeros(batch_sizes[0], self.hidden_size, rows))
        elif packed:
            hx = self.permute_hidden(hx, orig.sorted_indices)
        else:
            dims = (hx[0].dim(), hx[1].dim())
            if batched and dims != (3, 3):
                raise RuntimeError(f"For batched 3-D input, hx and cx should also be 3-D but "
                                   f"got ({dims[0]}-D, {dims[1]}-D) tensors")
            if not batched:
                if dims != (2, 2):
                    raise RuntimeError(f"For unbatched 2-D input, hx and cx should also be 2-D "
                                       f"but got ({dims[0]}-D, {dims[1]}-D) tensors")
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(rows if packed else orig, hx, batch_sizes if packed else None)
        out, h_n, c_n = self._run(rows, batch_sizes, hx[0], hx[1])
        hidden: Any = (h_n, c_n)
        if packed:
            hidden = self.permute_hidden(hidden, orig.unsorted_indices)
        elif not batched:
            hidden = (h_n.squeeze(1), c_n.squeeze(1))  # type: ignore[union-attr]
        return self._output(out, batch_sizes, orig, batched), hidden


# -- cells -------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """One time step: weight_ih (chunks*hidden, input), weight_hh (chunks*hidden, hidden),
    bias_ih and bias_hh (chunks*hidden,) or None."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device, dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), device, dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device, dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        """torch's init: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check(self, input: Tensor, states: tuple[Tensor, ...]) -> None:
        """torch's checks of a cell's arguments (2-D by now)."""
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} "
                               f"expected {self.input_size}")
        if input.dtype != self.weight_ih.dtype:
            raise RuntimeError(f"expected input and weight to have the same dtype, but got "
                               f"{input.dtype} and {self.weight_ih.dtype}")
        for k, h in enumerate(states):
            if h.size(0) != input.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{k} "
                                   f"batch size {h.size(0)}")
            if h.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.size(1)}, "
                                   f"expected {self.hidden_size}")

    def _step(self, scan: Any, input: Tensor, states: tuple[Any, ...],
              **options: Any) -> tuple[Tensor, ...]:
        self._check(input, states)
        c0 = states[1] if len(states) > 1 else None
        return scan.apply(input, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                          None, states[0], c0, batch_sizes=(input.shape[0],), reverse=False,
                          **options)

    def _batch(self, input: Tensor, hx: Any, n_states: int) -> tuple[Tensor, Any, bool]:
        """The input and states made 2-D (an unbatched 1-D input gets a batch of one)."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        states = hx if n_states > 1 or hx is None else (hx,)
        if states is not None:
            for k, h in enumerate(states):
                if h.dim() not in (1, 2):
                    what = "hidden" if n_states == 1 else f"hx[{k}]"
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.dim()}D "
                                     f"instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if states is None:
            z = zeros(input.size(0), self.hidden_size, dtype=input.dtype)
            states = (z,) * n_states
        elif not batched:
            states = tuple(h.unsqueeze(0) for h in states)
        return input, tuple(states), batched


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, states, batched = self._batch(input, hx, 1)
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        h = self._step(RNNScan, input, states, nonlinearity=self.nonlinearity)[0]
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') from x and (h, c), torch's gate order (i, f, g, o)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        input, states, batched = self._batch(input, hx, 2)
        _, h, c = self._step(LSTMScan, input, states)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step, torch's gate order (r, z, n)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, states, batched = self._batch(input, hx, 1)
        h = self._step(GRUScan, input, states)[1]
        return h if batched else h.squeeze(0)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
