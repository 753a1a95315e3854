"""What pytorch/examples' CNN, GAN, style-transfer, reinforcement-learning and SNLI programs ask
of the library, in small pieces of our own: each builds the same model on torch and on ndgrad
(weights copied), runs the programs' kind of training step, and compares losses, gradients and
updated state."""

from __future__ import annotations

import itertools
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad
from tests.helpers import assert_close

LIBS = (ndgrad, torch)


def copy_weights(src: Any, dst: Any) -> None:
    """ndgrad module -> torch module of the same layout (parameters and buffers)."""
    dst.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                         for k, v in src.state_dict().items()})


def batches(n: int, *shapes: tuple[int, ...], seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in shapes] for _ in range(n)]


# -- fast_neural_style: reflection pad, instance norm, nearest upsampling, gram matrices --------
def style_net(lib: Any) -> Any:
    nn = lib.nn

    class Block(nn.Module):  # type: ignore[name-defined]  # ConvLayer + InstanceNorm + ReLU, then an UpsampleConvLayer
        def __init__(self) -> None:
            super().__init__()
            self.pad = nn.ReflectionPad2d(1)
            self.conv = nn.Conv2d(3, 4, 3, 2)
            self.norm = nn.InstanceNorm2d(4, affine=True)
            self.up = nn.Upsample(mode="nearest", scale_factor=2)
            self.conv2 = nn.Conv2d(4, 3, 3)

        def forward(self, x: Any) -> Any:
            y = nn.functional.relu(self.norm(self.conv(self.pad(x))))
            return self.conv2(self.pad(self.up(y))) + x

    return Block().double()


def gram_matrix(y: Any) -> Any:
    b, ch, h, w = y.size()
    features = y.view(b, ch, w * h)
    return features.bmm(features.transpose(1, 2)) / (ch * h * w)


def test_style_transfer_step_as_torch() -> None:
    nets = {lib: style_net(lib) for lib in LIBS}
    copy_weights(nets[ndgrad], nets[torch])
    style, *rest = [b[0] for b in batches(3, (2, 3, 8, 8))]
    results = {}
    for lib, net in nets.items():
        opt = lib.optim.Adam(net.parameters(), 1e-2)
        mean = lib.tensor([0.485, 0.456, 0.406], dtype=lib.float64).view(-1, 1, 1)
        gram_style = gram_matrix(lib.tensor(style) * 255)
        out = []
        for x in rest:
            opt.zero_grad()
            y = net(lib.tensor(x) * 255)
            y = (y.div_(255.0) - mean) / 0.226  # in place on a conv output, as normalize_batch
            loss = lib.nn.functional.mse_loss(gram_matrix(y), gram_style) + y.square().mean()
            loss.backward()
            out.append((loss.detach(), net.conv.weight.grad.clone(), net.norm.bias.grad.clone()))
            opt.step()
        results[lib] = out
    for ours, theirs in zip(results[ndgrad], results[torch]):
        for a, b in zip(ours, theirs):
            assert_close(a, b)


# -- dcgan: transposed convolutions, batch norm in training, BCELoss, detach --------------------
def gan(lib: Any) -> tuple[Any, Any]:
    nn = lib.nn
    g = nn.Sequential(nn.ConvTranspose2d(4, 6, 4, 1, 0, bias=False), nn.BatchNorm2d(6),
                      nn.ReLU(True), nn.ConvTranspose2d(6, 1, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                      nn.Conv2d(4, 6, 4, 2, 1, bias=False), nn.BatchNorm2d(6),
                      nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(6, 1, 2, 1, 0, bias=False),
                      nn.Sigmoid())
    return g.double(), d.double()


def test_gan_steps_as_torch() -> None:
    nets = {lib: gan(lib) for lib in LIBS}
    for ours, theirs in zip(nets[ndgrad], nets[torch]):
        copy_weights(ours, theirs)
    data = batches(3, (5, 1, 8, 8), (5, 4, 1, 1), seed=1)
    results = {}
    for lib, (g, d) in nets.items():
        crit = lib.nn.BCELoss()
        opt_d = lib.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
        opt_g = lib.optim.Adam(g.parameters(), lr=2e-3, betas=(0.5, 0.999))
        out = []
        for real, noise in data:
            real = lib.tensor(real)
            d.zero_grad()
            label = lib.full((5,), 1, dtype=real.dtype)
            err_real = crit(d(real).view(-1, 1).squeeze(1), label)
            err_real.backward()
            fake = g(lib.tensor(noise))
            label.fill_(0)
            err_fake = crit(d(fake.detach()).view(-1), label)
            err_fake.backward()
            opt_d.step()
            g.zero_grad()
            label.fill_(1)
            err_g = crit(d(fake).view(-1), label)
            err_g.backward()
            opt_g.step()
            out.append(((err_real + err_fake).detach(), err_g.detach(), d[3].running_var.clone(),
                        g[1].running_mean.clone(), g[0].weight.detach().clone()))
        results[lib] = out
    for ours, theirs in zip(results[ndgrad], results[torch]):
        for a, b in zip(ours, theirs):
            assert_close(a, b)


# -- actor_critic: Categorical, smooth_l1 against tensor([R]), normalised returns ---------------
def test_actor_critic_loss_as_torch() -> None:
    saved = namedtuple("saved", ["log_prob", "value"])
    rng = np.random.default_rng(2)
    states, actions = rng.standard_normal((6, 4)), rng.integers(0, 2, 6)
    rewards = [1.0] * 6
    nets = {lib: (lib.nn.Linear(4, 8).double(), lib.nn.Linear(8, 2).double(),
                  lib.nn.Linear(8, 1).double()) for lib in LIBS}
    for ours, theirs in zip(nets[ndgrad], nets[torch]):
        copy_weights(ours, theirs)
    grads = {}
    for lib in LIBS:
        body, head, value_head = nets[lib]
        memory = []
        for s, a in zip(states, actions):
            h = lib.nn.functional.relu(body(lib.from_numpy(s)))
            m = lib.distributions.Categorical(lib.nn.functional.softmax(head(h), dim=-1))
            memory.append(saved(m.log_prob(lib.tensor(int(a))), value_head(h)))
        returns: Any = []
        big_r = 0.0
        for r in rewards[::-1]:
            big_r = r + 0.99 * big_r
            returns.insert(0, big_r)
        returns = lib.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + np.finfo(np.float32).eps.item())
        policy, value = [], []
        for (log_prob, v), big_r in zip(memory, returns):
            policy.append(-log_prob * (big_r - v.item()))
            value.append(lib.nn.functional.smooth_l1_loss(v, lib.tensor([big_r])))
        loss = lib.stack(policy).sum() + lib.stack(value).sum()
        loss.backward()
        grads[lib] = [loss] + [p.grad for m in nets[lib] for p in m.parameters()]
    for a, b in zip(grads[ndgrad], grads[torch]):
        assert_close(a, b, rtol=1e-5, atol=1e-7)  # the returns are float32, as there


# -- snli: SPINN's shift-reduce stacks over split/chunk/cat, += on a Linear output, LSTMCell -----
def spinn_step(lib: Any, mods: tuple[Any, ...], buffers: Any) -> Any:
    left, right, track, cell = mods

    def bundle(items: Any) -> Any:
        return lib.cat(tuple(items), 0).chunk(2, 1)

    def unbundle(state: Any) -> Any:
        return lib.split(lib.cat(state, 1), 1, 0)

    bufs = [list(lib.split(b.squeeze(1), 1, 0)) for b in lib.split(buffers, 1, 1)]
    stacks = [[buf[0], buf[0]] for buf in bufs]
    state = 2 * [lib.zeros(len(bufs), 3, dtype=buffers.dtype)]  # a list, as SPINN's tracker
    for transition in [3, 3, 2, 3, 2]:  # shift, shift, reduce, shift, reduce
        x = lib.cat((bundle(b[-1] for b in bufs)[0], bundle(s[-1] for s in stacks)[0]), 1)
        state = cell(x, state)
        trackers = unbundle(state)
        if transition == 3:
            for buf, stack in zip(bufs, stacks):
                stack.append(buf.pop())
            continue
        rights, lefts = [s.pop() for s in stacks], [s.pop() for s in stacks]
        lstm_in = left(bundle(lefts)[0])
        lstm_in += right(bundle(rights)[0])  # in place on a non-leaf
        lstm_in += track(bundle(trackers)[0])
        a, i, f1, f2, o = lstm_in.chunk(5, 1)
        c = a.tanh() * i.sigmoid() + f1.sigmoid() * bundle(lefts)[1] + \
            f2.sigmoid() * bundle(rights)[1]
        h = o.sigmoid() * c.tanh()
        for stack, node in zip(stacks, unbundle((h, c))):
            stack.append(node)
    return bundle([s.pop() for s in stacks])[0]


def test_spinn_shift_reduce_as_torch() -> None:
    def make(lib: Any) -> tuple[Any, ...]:  # hidden size 2: stack entries hold (h, c)
        return (lib.nn.Linear(2, 10).double(), lib.nn.Linear(2, 10, bias=False).double(),
                lib.nn.Linear(3, 10, bias=False).double(), lib.nn.LSTMCell(4, 3).double())

    mods = {lib: make(lib) for lib in LIBS}
    for ours, theirs in zip(mods[ndgrad], mods[torch]):
        copy_weights(ours, theirs)
    x = batches(1, (5, 3, 4), seed=3)[0][0]  # (T, B, 2 * hidden): 5 tokens, 3 shifts
    grads = {}
    for lib in LIBS:
        buffers = lib.tensor(x, requires_grad=True)
        out = spinn_step(lib, mods[lib], buffers)
        (out * lib.arange(1, 3, dtype=out.dtype)).sum().backward()
        grads[lib] = [out, buffers.grad] + [p.grad for m in mods[lib] for p in m.parameters()]
    for a, b in zip(grads[ndgrad], grads[torch]):
        assert_close(a, b)


# -- super_resolution: the old init.orthogonal name with calculate_gain, PixelShuffle ----------
@pytest.mark.filterwarnings("ignore:`nn.init.orthogonal` is now deprecated")
def test_orthogonal_init_and_pixel_shuffle_as_torch() -> None:
    w = ndgrad.empty(9, 32, 3, 3)
    ndgrad.nn.init.orthogonal(w, ndgrad.nn.init.calculate_gain("relu"))
    rows = w.view(9, -1).numpy().astype(np.float64)
    assert np.allclose(rows @ rows.T, 2.0 * np.eye(9), atol=1e-5)  # gain sqrt(2), orthogonal
    x = np.random.default_rng(4).standard_normal((2, 9, 3, 5))
    outs = [lib.nn.PixelShuffle(3)(lib.tensor(x)) for lib in LIBS]
    assert_close(outs[0], outs[1], rtol=0, atol=0)
    assert tuple(outs[0].shape) == (2, 1, 9, 15)


def test_snli_bottle_modules_as_torch() -> None:
    """SNLI's Bottle: a Linear/BatchNorm1d subclass calling super().forward on (T*B, D)."""
    outs, mods = [], []
    for lib in LIBS:
        class Bottle(lib.nn.Module):  # type: ignore[name-defined]
            def forward(self, input: Any) -> Any:
                if len(input.size()) <= 2:
                    return super().forward(input)
                size = input.size()[:2]
                out = super().forward(input.view(size[0] * size[1], -1))
                return out.view(*size, -1)

        class Linear(Bottle, lib.nn.Linear):  # type: ignore[name-defined]
            pass

        class BatchNorm(Bottle, lib.nn.BatchNorm1d):  # type: ignore[name-defined]
            pass

        lin, bn = Linear(4, 3).double(), BatchNorm(3).double()
        mods.append(lin)
        if lib is torch:
            copy_weights(mods[0], lin)
        x = lib.tensor(np.arange(24.0).reshape(2, 3, 4) / 10, requires_grad=True)
        y = bn(lin(x))
        y.square().sum().backward()
        outs.append((y, x.grad, lin.weight.grad, bn.running_var))
    for a, b in zip(*outs):
        assert_close(a, b)


def test_example_shapes_stay_consistent() -> None:
    """The examples index with plain Python ints and iterate 0-d results (SPINN's transitions)."""
    for lib in LIBS:
        trans = lib.tensor([3, 2, 3])
        assert [int(t) for t in trans.data if t == 3] == [3, 3]
        assert list(itertools.islice(iter(lib.tensor([1.0, 2.0])), 1))[0].item() == 1.0
