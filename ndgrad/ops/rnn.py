"""Recurrent primitives: one layer of an RNN, LSTM or GRU, in one direction, over a whole sequence.

Why a whole layer is one op: a graph of small ops per time step (a matmul, a chunk, three
sigmoids, a tanh, four products, ...) costs NumPy and the engine one Python call each, and those
calls, not the arithmetic, are what a small recurrent network spends its time on. Here:

* forward projects the inputs of every time step with one matmul (``x @ W_ih^T + b``), then
  walks the steps with one matmul per step (``h @ W_hh^T``) and the gate math done in place;
* backward is backpropagation through time in NumPy: walking the steps in reverse, each step's
  gradient of the gate pre-activations ``dz_t`` goes into one buffer, and the weight gradients
  are then single matmuls over all steps (``dz^T @ x``, ``dz^T @ h_prev``).

Layout: ``x`` holds the rows of a packed sequence, time-major, as in ``PackedSequence.data``:
step ``t`` is the next ``batch_sizes[t]`` rows, one per sequence still running (sequences are
sorted longest first, so it is always the first ones). A padded (T, B, I) batch is (T*B, I)
with every batch size B. A sequence that has ended keeps its state, so the final state
``h_n`` of each sequence is the one after its own last step. ``reverse`` walks the steps
backwards (the second direction of a bidirectional layer); each sequence then starts from its
initial state at its own last step.

Under ``create_graph`` the backward must itself be differentiable: it then rebuilds the layer
from the cell equations in Tensor ops (``reference``, written as torch's documentation states
them) and differentiates that graph, so higher-order gradients are exact.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any

import numpy as np

from ndgrad.autograd.engine import run_backward
from ndgrad.ops.base import Primitive
from ndgrad.ops.shape import Cat, Reshape

Steps = list[tuple[int, int]]


def _steps(batch_sizes: tuple[int, ...], reverse: bool) -> Steps:
    """(first row, batch size) of each time step, in the order the layer walks them."""
    starts = accumulate(batch_sizes[:-1], initial=0)
    steps = list(zip(starts, batch_sizes, strict=True))
    return steps[::-1] if reverse else steps


def _contiguous_t(w: np.ndarray, steps: Steps) -> np.ndarray:
    """w^T for the recurrent matmul of every step: as its own contiguous array when there are
    enough steps to repay the copy (BLAS multiplies a small batch by it 1.1-2.5x faster than by
    the transposed view; the copy costs one to two such matmuls), else the view (cells)."""
    return np.ascontiguousarray(w.T) if len(steps) > 4 else w.T


def _sigmoid_of_negated(a: np.ndarray) -> None:
    """sigmoid(z) in place, given a = -z: 1 / (1 + exp(a)) in three passes, no temporary
    (exp overflows to inf for z < -709, and 1 / inf is the right 0)."""
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


class _Scan(Primitive):
    """What the three layers share: the step layout and the differentiable backward.

    Inputs, in this order: x (N, I), w_ih (G*H, I), w_hh (G*H, P), b_ih, b_hh (G*H,) or None,
    w_hr (P, H) or None, h0 (B, P), c0 (B, H) or None; keyword batch_sizes, reverse. Outputs:
    out (N, P), the new state of every row; h_n (B, P); c_n (B, H) for the LSTM."""

    n_inputs = 8

    @staticmethod
    def reference(*inputs: Any, steps: Steps, **options: Any) -> tuple[Any, ...]:
        """The layer as a graph of Tensor ops, step by step (the inputs as for forward)."""
        raise NotImplementedError

    @classmethod
    def _differentiable_backward(cls, ctx: Any, grads: tuple[Any, ...]) -> tuple[Any, ...]:
        """Gradients as a graph: rebuild the layer from Tensor ops on the inputs and
        differentiate it (create_graph=True only; the NumPy backward is the usual path)."""
        inputs = ctx.saved_tensors[:cls.n_inputs]
        wanted: dict[int, int] = {}  # id of an input tensor -> its first position
        for k, (t, need) in enumerate(zip(inputs, ctx.needs_input_grad, strict=True)):
            if need and id(t) not in wanted:  # one tensor passed twice gets its gradient once
                wanted[id(t)] = k
        # differentiate with respect to fresh aliases, so that the inner pass stops there and
        # never runs the nodes (or hooks) of the graph that made the inputs
        made = {i: Reshape.apply(inputs[k], tuple(inputs[k].shape)) for i, k in wanted.items()}
        alias = [made.get(id(t), t) for t in inputs]
        outs = cls.reference(*alias, steps=ctx.steps, **ctx.options)
        grads = grads[:len(outs)]
        found = run_backward(outs, grads, retain_graph=True, create_graph=True,
                             inputs=[alias[k] for k in wanted.values()], allow_unused=True)
        result: list[Any] = [None] * cls.n_inputs
        for k, g in zip(wanted.values(), found or (), strict=True):
            result[k] = g
        return tuple(result)

    @staticmethod
    def _input_grads(ctx: Any, dzx: np.ndarray, dzh: np.ndarray | None, x: np.ndarray,
                     w_ih: np.ndarray, hprev: np.ndarray, rows: Any = None) -> list[Any]:
        """Gradients of x, w_ih, w_hh, b_ih, b_hh from the gradients of the two projections,
        dzx of x @ W_ih^T + b_ih and dzh of h_prev @ W_hh^T + b_hh (None: the same as dzx, as
        in RNN and LSTM), each one matmul over all steps. ``rows`` reorders the gate rows of
        the weight and bias gradients (LSTM)."""
        need = ctx.needs_input_grad
        same = dzh is None
        dzh = dzx if dzh is None else dzh

        def gate_rows(g: np.ndarray) -> np.ndarray:
            return g if rows is None else g[rows]

        gb_x = gate_rows(dzx.sum(0)) if need[3] or (need[4] and same) else None
        gb_h = (gb_x if same else gate_rows(dzh.sum(0))) if need[4] else None
        return [dzx @ w_ih if need[0] else None,
                gate_rows(dzx.T @ x) if need[1] else None,
                gate_rows(dzh.T @ hprev) if need[2] else None,
                gb_x if need[3] else None, gb_h]


# -- LSTM ------------------------------------------------------------------------------------
def _lstm_order(hid: int) -> np.ndarray:
    """Rows of torch's gate order (i, f, g, o) rearranged as (i, f, o, g): the three sigmoid
    gates become one contiguous slice."""
    r = np.arange(hid)
    return np.concatenate([r, r + hid, r + 3 * hid, r + 2 * hid])


class LSTMScan(_Scan):
    """An LSTM layer, torch's equations and gate order (i, f, g, o):
        z = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
        c_t = f * c_{t-1} + i * g;    h_t = o * tanh(c_t)    (then h_t W_hr^T with proj_size)

    Backward, per step, from dh (reaching h_t) and dc (reaching c_t):
        dc += dh * o * (1 - tanh(c_t)^2);  dz_i = dc g i (1 - i);  dz_f = dc c_{t-1} f (1 - f)
        dz_o = dh tanh(c_t) o (1 - o);  dz_g = dc i (1 - g^2);  dh_{t-1} = dz W_hh;  dc_{t-1} = dc f
    """

    @staticmethod
    def forward(ctx: Any, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, w_hr: Any, h0: Any,
                c0: Any, *, batch_sizes: Any, reverse: Any) -> Any:
        hid = w_hh.shape[0] // 4
        steps = _steps(batch_sizes, reverse)
        order = _lstm_order(hid)
        # the sigmoid gates' rows negated: their pre-activations come out as a = -z
        wx, wh = w_ih[order], w_hh[order]
        wx[:3 * hid] *= -1
        wh[:3 * hid] *= -1
        acts = np.matmul(x, wx.T)  # (N, 4H): every step's input projection, one matmul
        if b_ih is not None:
            b = (b_ih + b_hh)[order]
            b[:3 * hid] *= -1
            acts += b
        n, p = x.shape[0], w_hh.shape[1]
        h, c = h0.copy(), c0.copy()  # (B, P), (B, H): the running state of each sequence
        out = np.empty((n, p), x.dtype)
        hprev, cprev = np.empty_like(out), np.empty((n, hid), x.dtype)
        tanh_c = np.empty((n, hid), x.dtype)
        hr = np.empty((h.shape[0], hid), x.dtype) if w_hr is not None else None
        wh_t = _contiguous_t(wh, steps)
        gh, ig = np.empty((h.shape[0], 4 * hid), x.dtype), np.empty((h.shape[0], hid), x.dtype)
        for start, bs in steps:
            rows = slice(start, start + bs)
            hp, cp = h[:bs], c[:bs]
            hprev[rows], cprev[rows] = hp, cp
            a = acts[rows]  # (bs, 4H), becomes the gates in place: (i, f, o, g)
            a += np.matmul(hp, wh_t, out=gh[:bs])
            _sigmoid_of_negated(a[:, :3 * hid])
            np.tanh(a[:, 3 * hid:], out=a[:, 3 * hid:])
            np.multiply(a[:, hid:2 * hid], cp, out=cp)  # c = f * c + i * g, in the state
            cp += np.multiply(a[:, :hid], a[:, 3 * hid:], out=ig[:bs])
            tc = np.tanh(cp, out=tanh_c[rows])
            if hr is None:
                h[:bs] = np.multiply(a[:, 2 * hid:3 * hid], tc, out=out[rows])
            else:
                np.multiply(a[:, 2 * hid:3 * hid], tc, out=hr[:bs])
                h[:bs] = np.matmul(hr[:bs], w_hr.T, out=out[rows])
        ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, acts, tanh_c, hprev,
                              cprev)
        ctx.steps, ctx.options = steps, {}
        return out, h, c

    @staticmethod
    def backward(ctx: Any, g_out: Any, g_h: Any, g_c: Any) -> Any:
        if not isinstance(g_out, np.ndarray):
            return LSTMScan._differentiable_backward(ctx, (g_out, g_h, g_c))
        x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, acts, tanh_c, hprev, cprev = ctx.saved_like(g_out)
        hid = w_hh.shape[0] // 4
        order = _lstm_order(hid)
        wh = w_hh[order]
        dz = np.empty_like(acts)  # (N, 4H): d loss / d pre-activation, gates (i, f, o, g)
        dh, dc = g_h.copy(), g_c.copy()  # what reaches each sequence's current h and c
        dh_all = np.empty_like(g_out) if w_hr is not None else None  # d of projected h_t
        tmp = np.empty((dh.shape[0], hid), acts.dtype)
        tmp3 = np.empty((dh.shape[0], 3 * hid), acts.dtype)
        dho_buf = np.empty((dh.shape[0], hid), acts.dtype) if dh_all is not None else None
        for start, bs in reversed(ctx.steps):
            rows = slice(start, start + bs)
            a, d, tc, t = acts[rows], dz[rows], tanh_c[rows], tmp[:bs]
            i, f, o, g = a[:, :hid], a[:, hid:2 * hid], a[:, 2 * hid:3 * hid], a[:, 3 * hid:]
            dht = dh[:bs]
            dht += g_out[rows]
            if dh_all is not None:  # h_t = (o * tanh(c_t)) @ W_hr^T
                dh_all[rows] = dht
                dho = np.matmul(dht, w_hr, out=dho_buf[:bs])  # type: ignore[index]
            else:
                dho = dht
            dct = dc[:bs]  # dc += dh * o * (1 - tanh(c)^2)
            np.multiply(tc, tc, out=t)
            np.subtract(1, t, out=t)
            t *= o
            t *= dho
            dct += t
            np.multiply(dct, g, out=d[:, :hid])
            np.multiply(dct, cprev[rows], out=d[:, hid:2 * hid])
            np.multiply(dho, tc, out=d[:, 2 * hid:3 * hid])
            s = a[:, :3 * hid]  # sigmoid' = s (1 - s)
            d[:, :3 * hid] *= s
            d[:, :3 * hid] *= np.subtract(1, s, out=tmp3[:bs])
            dg = d[:, 3 * hid:]  # tanh' = 1 - g^2
            np.multiply(g, g, out=dg)
            np.subtract(1, dg, out=dg)
            dg *= i
            dg *= dct
            dct *= f  # dc_{t-1}
            np.matmul(d, wh, out=dht)  # dh_{t-1}
        # dz's columns are in the (i, f, o, g) order. Back to torch's order goes whichever is
        # smaller: dz itself (few rows: a cell), or the gradients' rows (w_ih's rows reordered
        # to match dz; a long sequence)
        need = ctx.needs_input_grad
        back = np.argsort(order)
        if dz.shape[0] <= x.shape[1] + hprev.shape[1]:
            grads = _Scan._input_grads(ctx, dz[:, back], None, x, w_ih, hprev)
        else:
            grads = _Scan._input_grads(ctx, dz, None, x, w_ih[order], hprev, back)
        g_hr = None
        if dh_all is not None and need[5]:
            g_hr = dh_all.T @ (acts[:, 2 * hid:3 * hid] * tanh_c)
        return (*grads, g_hr, dh if need[6] else None, dc if need[7] else None)

    @staticmethod
    def reference(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, steps):  # type: ignore[override]
        """The same layer as a graph of Tensor ops, step by step."""
        xp = x @ w_ih.mT if b_ih is None else x @ w_ih.mT + (b_ih + b_hh)
        h, c, outs = h0, c0, {}
        for start, bs in steps:
            hp, cp = h[:bs], c[:bs]
            i, f, g, o = (xp[start:start + bs] + hp @ w_hh.mT).chunk(4, 1)
            c_new = f.sigmoid() * cp + i.sigmoid() * g.tanh()
            h_new = o.sigmoid() * c_new.tanh()
            if w_hr is not None:
                h_new = h_new @ w_hr.mT
            outs[start] = h_new
            h, c = _update(h, h_new, bs), _update(c, c_new, bs)
        return Cat.apply(*[outs[s] for s in sorted(outs)], dim=0), h, c


def _update(state: Any, new: Any, bs: int) -> Any:
    """The state with its first bs rows replaced (the sequences that ran this step)."""
    return new if bs == state.shape[0] else Cat.apply(new, state[bs:], dim=0)


# -- GRU -------------------------------------------------------------------------------------
class GRUScan(_Scan):
    """A GRU layer, torch's equations and gate order (r, z, n):
        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z likewise
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn));   h_t = (1 - z) * n + z * h_{t-1}

    Backward, per step, from dh reaching h_t (with hn = h W_hn^T + b_hn):
        dn = dh (1 - z) (1 - n^2);  dz = dh (h_{t-1} - n) z (1 - z);  dr = dn hn r (1 - r)
        the h-projection gets (dr, dz, dn * r); dh_{t-1} = dh z + (dr, dz, dn r) W_hh
    """

    @staticmethod
    def forward(ctx: Any, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, w_hr: Any, h0: Any,
                c0: Any, *, batch_sizes: Any, reverse: Any) -> Any:
        hid = w_hh.shape[0] // 3
        steps = _steps(batch_sizes, reverse)
        # r and z rows negated: their pre-activations come out as a = -z
        wx, wh = w_ih.copy(), w_hh.copy()
        wx[:2 * hid] *= -1
        wh[:2 * hid] *= -1
        acts = np.matmul(x, wx.T)  # (N, 3H): every step's input projection
        b_hn = None
        if b_ih is not None:
            b = b_ih.copy()
            b[:2 * hid] += b_hh[:2 * hid]  # b_hn stays apart: r multiplies it
            b[:2 * hid] *= -1
            acts += b
            b_hn = b_hh[2 * hid:]
        n = x.shape[0]
        h = h0.copy()
        out, hprev = np.empty((n, hid), x.dtype), np.empty((n, hid), x.dtype)
        hn_all = np.empty((n, hid), x.dtype)  # h W_hn^T + b_hn of each row
        gh = np.empty((h.shape[0], 3 * hid), x.dtype)
        rhn = np.empty((h.shape[0], hid), x.dtype)
        wh_t = _contiguous_t(wh, steps)
        for start, bs in steps:
            rows = slice(start, start + bs)
            hp = h[:bs]
            hprev[rows] = hp
            a = acts[rows]  # becomes (r, z, n) in place
            ghs = np.matmul(hp, wh_t, out=gh[:bs])
            a[:, :2 * hid] += ghs[:, :2 * hid]
            _sigmoid_of_negated(a[:, :2 * hid])
            hn = hn_all[rows]
            if b_hn is None:
                hn[...] = ghs[:, 2 * hid:]
            else:
                np.add(ghs[:, 2 * hid:], b_hn, out=hn)
            nn = a[:, 2 * hid:]
            nn += np.multiply(a[:, :hid], hn, out=rhn[:bs])
            np.tanh(nn, out=nn)
            ht = np.subtract(hp, nn, out=out[rows])  # h = n + z * (h_prev - n)
            ht *= a[:, hid:2 * hid]
            ht += nn
            h[:bs] = ht
        ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, None, h0, None, acts, hn_all, hprev)
        ctx.steps, ctx.options = steps, {}
        return out, h

    @staticmethod
    def backward(ctx: Any, g_out: Any, g_h: Any) -> Any:
        if not isinstance(g_out, np.ndarray):
            return GRUScan._differentiable_backward(ctx, (g_out, g_h))
        x, w_ih, w_hh, b_ih, b_hh, _, h0, _, acts, hn_all, hprev = ctx.saved_like(g_out)
        hid = w_hh.shape[0] // 3
        dzh = np.empty_like(acts)  # d of the h-projection (r, z, n parts)
        dxn = np.empty_like(hn_all)  # d of the x-projection's n part (its r, z parts: dzh's)
        dh = g_h.copy()
        tmp, dhp = np.empty((dh.shape[0], hid), acts.dtype), np.empty_like(dh)
        for start, bs in reversed(ctx.steps):
            rows = slice(start, start + bs)
            a, d, t = acts[rows], dzh[rows], tmp[:bs]
            r, z, nn = a[:, :hid], a[:, hid:2 * hid], a[:, 2 * hid:]
            dht = dh[:bs]
            dht += g_out[rows]
            np.subtract(1, z, out=t)
            dn = np.multiply(nn, nn, out=dxn[rows])  # dn = dh (1 - z) (1 - n^2)
            np.subtract(1, dn, out=dn)
            dn *= dht
            dn *= t
            dzz = np.subtract(hprev[rows], nn, out=d[:, hid:2 * hid])  # dh (h_prev - n) z (1-z)
            dzz *= dht
            dzz *= z
            dzz *= t
            dr = np.multiply(dn, hn_all[rows], out=d[:, :hid])  # dn hn r (1 - r)
            dr *= r
            np.subtract(1, r, out=t)
            dr *= t
            np.multiply(dn, r, out=d[:, 2 * hid:])
            dht *= z
            dht += np.matmul(d, w_hh, out=dhp[:bs])
        dzx = dzh.copy()
        dzx[:, 2 * hid:] = dxn
        need = ctx.needs_input_grad
        grads = _Scan._input_grads(ctx, dzx, dzh, x, w_ih, hprev)
        return (*grads, None, dh if need[6] else None, None)

    @staticmethod
    def reference(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, steps):  # type: ignore[override]
        """The same layer as a graph of Tensor ops, step by step."""
        xp = x @ w_ih.mT if b_ih is None else x @ w_ih.mT + b_ih
        h, outs = h0, {}
        for start, bs in steps:
            hp = h[:bs]
            gh = hp @ w_hh.mT if b_hh is None else hp @ w_hh.mT + b_hh
            xr, xz, xn = xp[start:start + bs].chunk(3, 1)
            hr, hz, hn = gh.chunk(3, 1)
            r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
            nn = (xn + r * hn).tanh()
            h_new = (1 - z) * nn + z * hp
            outs[start] = h_new
            h = _update(h, h_new, bs)
        return Cat.apply(*[outs[s] for s in sorted(outs)], dim=0), h


# -- Elman RNN -------------------------------------------------------------------------------
class RNNScan(_Scan):
    """An Elman RNN layer: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh
    (d = 1 - h_t^2) or relu (d = [h_t > 0]); dh_{t-1} = (dh * d) W_hh."""

    @staticmethod
    def forward(ctx: Any, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, w_hr: Any, h0: Any,
                c0: Any, *, batch_sizes: Any, reverse: Any, nonlinearity: Any) -> Any:
        steps = _steps(batch_sizes, reverse)
        out = np.matmul(x, w_ih.T)  # (N, H): every step's input projection, then its state
        if b_ih is not None:
            out += b_ih + b_hh
        h = h0.copy()
        hprev = np.empty_like(out)
        wh_t = _contiguous_t(w_hh, steps)
        gh = np.empty_like(h)
        tanh = nonlinearity == "tanh"
        for start, bs in steps:
            rows = slice(start, start + bs)
            hp = h[:bs]
            hprev[rows] = hp
            a = out[rows]
            a += np.matmul(hp, wh_t, out=gh[:bs])
            if tanh:
                np.tanh(a, out=a)
            else:
                np.maximum(a, 0, out=a)
            h[:bs] = a
        ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, None, h0, None, out, hprev)
        ctx.steps, ctx.options = steps, {"nonlinearity": nonlinearity}
        return out, h

    @staticmethod
    def backward(ctx: Any, g_out: Any, g_h: Any) -> Any:
        if not isinstance(g_out, np.ndarray):
            return RNNScan._differentiable_backward(ctx, (g_out, g_h))
        x, w_ih, w_hh, b_ih, b_hh, _, h0, _, out, hprev = ctx.saved_like(g_out)
        dz = np.empty_like(out)
        dh = g_h.copy()
        tanh = ctx.options["nonlinearity"] == "tanh"
        for start, bs in reversed(ctx.steps):
            rows = slice(start, start + bs)
            y, d = out[rows], dz[rows]
            dht = dh[:bs]
            dht += g_out[rows]
            if tanh:
                np.multiply(y, y, out=d)
                np.subtract(1, d, out=d)
                d *= dht
            else:
                np.multiply(dht, y > 0, out=d)
            np.matmul(d, w_hh, out=dht)
        need = ctx.needs_input_grad
        grads = _Scan._input_grads(ctx, dz, None, x, w_ih, hprev)
        return (*grads, None, dh if need[6] else None, None)

    @staticmethod
    def reference(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, steps,  # type: ignore[override]
                  nonlinearity):
        """The same layer as a graph of Tensor ops, step by step."""
        xp = x @ w_ih.mT if b_ih is None else x @ w_ih.mT + (b_ih + b_hh)
        h, outs = h0, {}
        for start, bs in steps:
            pre = xp[start:start + bs] + h[:bs] @ w_hh.mT
            h_new = pre.tanh() if nonlinearity == "tanh" else pre.relu()
            outs[start] = h_new
            h = _update(h, h_new, bs)
        return Cat.apply(*[outs[s] for s in sorted(outs)], dim=0), h
