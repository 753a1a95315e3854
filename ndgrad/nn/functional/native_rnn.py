"""torch's functional recurrent layers and cells: ``torch.lstm``, ``torch.gru``,
``torch.rnn_tanh``, ``torch.rnn_relu`` and ``torch.lstm_cell``, ``gru_cell``, ...

nn.LSTM and friends call these (``_VF.lstm``) with their weights as one flat list, in
``_flat_weights`` order: per layer and direction ``w_ih, w_hh[, b_ih, b_hh][, w_hr]``. Each
layer and direction here runs as one of ndgrad's sequence primitives (``ndgrad/ops/rnn.py``), as
in ndgrad's nn.RNN/LSTM/GRU, so the numerics and the backward are those layers'.

Two forms, as torch's: the input form ``(input, hx, params, has_biases, num_layers, dropout,
train, bidirectional, batch_first)`` on a padded (T, B, F) (or (B, T, F)) batch, and the data
form ``(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
bidirectional)`` on a packed sequence's rows. The LSTM's ``hx`` is ``(h_0, c_0)``; it has
projections (``w_hr``) when h_0's last dim differs from c_0's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ndgrad.nn.functional.dropout import dropout as _dropout
from ndgrad.ops.rnn import GRUScan, LSTMScan, RNNScan
from ndgrad.tensor import Tensor, cat, stack

_INPUT_FORM = ("input", "hx", "params", "has_biases", "num_layers", "dropout", "train",
               "bidirectional", "batch_first")
_DATA_FORM = ("data", "batch_sizes", "hx", "params", "has_biases", "num_layers", "dropout",
              "train", "bidirectional")
_SCANS: dict[str, Any] = {"lstm": LSTMScan, "gru": GRUScan, "rnn_tanh": RNNScan,
                          "rnn_relu": RNNScan}


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any],
                                                                               bool]:
    """The arguments by name, and whether they are the data (packed) form: the LSTM's second
    argument, the others' third, is a Tensor only in that form (batch sizes; h_0)."""
    k = 1 if name == "lstm" else 2
    packed = "data" in kwargs or "batch_sizes" in kwargs or (
        len(args) > k and isinstance(args[k], Tensor))
    names = _DATA_FORM if packed else _INPUT_FORM
    if len(args) > len(names):
        raise TypeError(f"{name}() takes {len(names)} arguments, got {len(args)}")
    bound = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in names or key in bound:
            raise TypeError(f"{name}() got an unexpected or repeated argument '{key}'")
        bound[key] = value
    missing = [n for n in names if n not in bound]
    if missing:
        raise TypeError(f"{name}() missing required arguments: {', '.join(missing)}")
    return bound, packed


def _groups(name: str, params: Sequence[Tensor], has_biases: bool, layers: int,
            directions: int, proj: bool) -> list[list[Tensor]]:
    """params split into one list per layer and direction."""
    per = 2 + 2 * bool(has_biases) + int(proj)
    if len(params) != per * layers * directions:
        raise RuntimeError(f"{name}: expected {per * layers * directions} parameter tensors "
                           f"({layers} layer(s) x {directions} direction(s) x {per}), got "
                           f"{len(params)}")
    return [list(params[i:i + per]) for i in range(0, len(params), per)]


def _run(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Tensor, ...]:
    """Every layer and direction over the rows; returns (output, h_n[, c_n])."""
    b, packed = _bind(name, args, kwargs)
    lstm = name == "lstm"
    directions = 2 if b["bidirectional"] else 1
    layers = int(b["num_layers"])
    if lstm:
        if len(b["hx"]) != 2:
            raise RuntimeError("lstm expects two hidden states")
        h0, c0 = b["hx"]
    else:
        h0, c0 = b["hx"], None
    if packed:
        rows = b["data"]
        batch_sizes = tuple(int(v) for v in b["batch_sizes"].tolist())
    else:
        x = b["input"]
        if x.dim() != 3:
            raise RuntimeError(f"{name}: expected a 3-D input (seq_len, batch, input_size), or "
                               f"(batch, seq_len, input_size) with batch_first, got "
                               f"{x.dim()}-D")
        if b["batch_first"]:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        rows, batch_sizes = x.reshape(steps * batch, x.shape[2]), (batch,) * steps
    states = (h0,) if c0 is None else (h0, c0)
    for k, h in enumerate(states):
        want = (layers * directions, batch_sizes[0] if batch_sizes else 0)
        if h.dim() != 3 or tuple(h.shape[:2]) != want:
            raise RuntimeError(f"Expected hidden[{k}] size ({want[0]}, {want[1]}, *), got "
                               f"{list(h.shape)}")
    proj = lstm and h0.shape[2] != c0.shape[2]  # type: ignore[union-attr]
    groups = _groups(name, b["params"], b["has_biases"], layers, directions, proj)
    out, h_n, c_n = run_layers(name, rows, batch_sizes, h0, c0, groups, b["has_biases"], proj,
                               directions, b["dropout"] if b["train"] else 0.0)
    if not packed:
        out = out.reshape(len(batch_sizes), batch_sizes[0], out.shape[-1])
        if b["batch_first"]:
            out = out.transpose(0, 1)
    return (out, h_n, c_n) if c_n is not None else (out, h_n)


def run_layers(mode: str, rows: Tensor, batch_sizes: tuple[int, ...], h0: Tensor,
               c0: Tensor | None, groups: Sequence[Sequence[Tensor]], has_biases: bool,
               proj: bool, directions: int,
               dropout: float) -> tuple[Tensor, Tensor, Tensor | None]:
    """A stacked RNN over a packed sequence's rows: each layer and direction one sequence
    primitive, with ``groups[layer * directions + direction]`` its weights (w_ih, w_hh[,
    b_ih, b_hh][, w_hr]) and ``dropout`` between layers. ``mode``: lstm, gru, rnn_tanh or
    rnn_relu. Returns (the last layer's rows, h_n, c_n or None). nn.RNN/LSTM/GRU run on it
    too."""
    scan = _SCANS[mode]
    options = {"nonlinearity": mode[4:]} if scan is RNNScan else {}
    layers = len(groups) // directions
    out, hs, cs = rows, [], []
    for layer in range(layers):
        outs = []
        for direction in range(directions):
            k = layer * directions + direction
            p = groups[k]
            b_ih, b_hh = (p[2], p[3]) if has_biases else (None, None)
            res = scan.apply(out, p[0], p[1], b_ih, b_hh, p[-1] if proj else None, h0[k],
                             None if c0 is None else c0[k], batch_sizes=batch_sizes,
                             reverse=direction == 1, **options)
            outs.append(res[0])
            hs.append(res[1])
            if c0 is not None:
                cs.append(res[2])
        out = outs[0] if directions == 1 else cat(outs, dim=1)
        if dropout and layer < layers - 1:
            out = _dropout(out, dropout, True)
    return out, stack(hs), (stack(cs) if c0 is not None else None)


def lstm(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, Tensor]:
    """torch.lstm: ``(input, (h_0, c_0), params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first)`` or ``(data, batch_sizes, (h_0, c_0), params, ...,
    bidirectional)``; returns (output, h_n, c_n)."""
    out, h, c = _run("lstm", args, kwargs)
    return out, h, c


def gru(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """torch.gru: ``(input, h_0, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first)`` or ``(data, batch_sizes, h_0, params, ...)``;
    returns (output, h_n)."""
    out, h = _run("gru", args, kwargs)
    return out, h


def rnn_tanh(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """torch.rnn_tanh: an Elman RNN with tanh, the arguments of torch.gru."""
    out, h = _run("rnn_tanh", args, kwargs)
    return out, h


def rnn_relu(*args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """torch.rnn_relu: an Elman RNN with relu, the arguments of torch.gru."""
    out, h = _run("rnn_relu", args, kwargs)
    return out, h


# -- cells -------------------------------------------------------------------------------------
def _cell(scan: Any, gates: int, input: Tensor, states: Sequence[Tensor], w_ih: Tensor,
          w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None,
          **options: Any) -> tuple[Tensor, ...]:
    """One step of a (B, I) input from (B, H) states, with torch's checks."""
    if input.dim() != 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got "
                         f"1): the cells take (batch, input_size) input, got {input.dim()}-D")
    hidden = w_hh.shape[1]
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected "
                           f"{w_ih.shape[1]}")
    if w_ih.shape[0] != gates * hidden:
        raise RuntimeError(f"weight_ih first dim must be {gates} * hidden_size = "
                           f"{gates * hidden}, but got {w_ih.shape[0]}")
    for k, h in enumerate(states):
        if h.shape[0] != input.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} "
                               f"batch size {h.shape[0]}")
        if h.shape[1] != hidden:
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.shape[1]}, "
                               f"expected {hidden}")
    if (b_ih is None) != (b_hh is None):  # one bias: the other is zeros
        b_ih = b_ih if b_ih is not None else b_hh.new_zeros(b_hh.shape)  # type: ignore[union-attr]
        b_hh = b_hh if b_hh is not None else b_ih.new_zeros(b_ih.shape)
    c0 = states[1] if len(states) > 1 else None
    res: tuple[Tensor, ...] = scan.apply(input, w_ih, w_hh, b_ih, b_hh, None, states[0], c0,
                                         batch_sizes=(input.shape[0],), reverse=False,
                                         **options)
    return res[1:]  # (h'[, c'])


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """torch.rnn_tanh_cell: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return _cell(RNNScan, 1, input, (hx,), w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh")[0]


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """torch.rnn_relu_cell: h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return _cell(RNNScan, 1, input, (hx,), w_ih, w_hh, b_ih, b_hh, nonlinearity="relu")[0]


def lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """torch.lstm_cell: (h', c') from ``hx = (h, c)``, gates (i, f, g, o)."""
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    h, c = _cell(LSTMScan, 4, input, tuple(hx), w_ih, w_hh, b_ih, b_hh)
    return h, c


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """torch.gru_cell: one GRU step, gates (r, z, n)."""
    return _cell(GRUScan, 3, input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]
