"""Whole-run parity: the same model trained by torch and by ndgrad on the same real MNIST
batches, from torch's initial weights, follows the same loss curve step for step.

Every step runs forward, cross-entropy, backward, clip_grad_norm_, the optimizer and an lr
scheduler in both libraries; the loss, the gradient norm and the lr of every step and the final
state_dict must agree to float32 tolerance.

Dropout: the two libraries draw different masks, so the torch model's dropout is replaced by a
module that multiplies by a mask we hand it, and that mask is ndgrad's own: before each step we
save ndgrad's RNG state, draw ``F.dropout(ones)`` (the scaled keep-mask, 0 or 1/(1-p)) and restore
the state, so the real ``ndgrad.nn.Dropout`` in training mode then draws exactly that mask. Both
sides thus compute ``x * mask`` with one mask, and ndgrad's Dropout (mask scaling, backward,
train/eval switch) is what is being checked, against torch's arithmetic.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import ndgrad

DATA = Path(os.environ.get("NDGRAD_DATA", "/nonexistent"))
pytestmark = pytest.mark.skipif(not (DATA / "mnist" / "train-labels-idx1-ubyte.gz").is_file(),
                                reason="the shared MNIST files are not available")

STEPS, BATCH = 40, 32
# (rtol, atol) per record. Observed: losses agree to ~4e-6 relative, weights to ~4e-6 absolute
# (RMSprop divides gradients by sqrt(v) + eps, which magnifies the last-bit differences of tiny
# gradients; SGD and Adam stay near 1e-7).
TOLERANCE = {"loss": (2e-5, 0), "norm": (1e-4, 0), "lr": (1e-6, 0), "weights": (2e-4, 1e-5)}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """These models are tiny: torch's thread pool only adds overhead (and spins when the
    machine is busy); the numbers do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def batches():
    """STEPS real MNIST batches (normalised float32 (B, 1, 28, 28), int64 labels)."""
    from ndgrad.datasets import MNIST

    ds = MNIST(train=True)
    idx = np.random.default_rng(0).permutation(len(ds))[:STEPS * BATCH]
    x = (ds.data.numpy()[idx] / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    x = x.astype(np.float32)[:, None]
    y = ds.targets.numpy()[idx]
    return [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x), BATCH)]


class SharedMaskDropout(torch.nn.Module):
    """torch side of the shared-mask dropout: multiplies by ``mask`` in training mode."""

    def __init__(self, p):
        super().__init__()
        self.p, self.mask = p, None

    def forward(self, x):
        return x * self.mask if self.training else x


def make_mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32),
                         nn.Tanh(), nn.Linear(32, 10))


def make_cnn(lib, p=0.5):
    nn = lib.nn
    dropout = SharedMaskDropout(p) if lib is torch else nn.Dropout(p)
    # No conv bias before BatchNorm: BN cancels it, so its gradient is pure rounding noise,
    # which Adam scales up to lr-sized random steps that no two libraries can agree on.
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 4, 14, 14)
        nn.Conv2d(4, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 8, 12, 12) -> (N, 8, 6, 6)
        nn.Flatten(), dropout, nn.Linear(8 * 6 * 6, 10))


def copy_weights(tmodel, nmodel):
    """Load torch's initial state_dict (parameters and buffers) into the ndgrad model."""
    result = nmodel.load_state_dict({k: ndgrad.tensor(v.detach().numpy().copy())
                                     for k, v in tmodel.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def make_scheduler(lib, opt, name, kwargs):
    return getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)


def train_both(batches, make, optimizer, opt_kwargs, scheduler, sched_kwargs, max_norm=1.0,
               dropout_shape=None):
    """Train both models side by side; returns per-step records and the two models."""
    torch.manual_seed(0)
    tmodel, nmodel = make(torch), make(ndgrad)
    copy_weights(tmodel, nmodel)
    topt = getattr(torch.optim, optimizer)(tmodel.parameters(), **opt_kwargs)
    nopt = getattr(ndgrad.optim, optimizer)(nmodel.parameters(), **opt_kwargs)
    tsched = make_scheduler(torch, topt, scheduler, sched_kwargs)
    nsched = make_scheduler(ndgrad, nopt, scheduler, sched_kwargs)
    plateau = scheduler == "ReduceLROnPlateau"
    tdrop = [m for m in tmodel.modules() if isinstance(m, SharedMaskDropout)]
    records = {k: ([], []) for k in ("loss", "norm", "lr")}
    for x, y in batches:
        if tdrop:
            state = ndgrad.get_rng_state()
            mask = ndgrad.nn.functional.dropout(ndgrad.ones(x.shape[0], *dropout_shape),
                                                tdrop[0].p)
            ndgrad.set_rng_state(state)  # so ndgrad's Dropout draws this very mask
            tdrop[0].mask = torch.from_numpy(mask.numpy().copy())
        for side, (lib, model, opt, sched) in enumerate(
                [(torch, tmodel, topt, tsched), (ndgrad, nmodel, nopt, nsched)]):
            loss = lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            norm = lib.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            opt.step()
            sched.step(loss.item()) if plateau else sched.step()
            records["loss"][side].append(loss.item())
            records["norm"][side].append(float(norm))
            records["lr"][side].append(opt.param_groups[0]["lr"])
    return records, tmodel, nmodel


def assert_same_run(records, tmodel, nmodel):
    for key, (theirs, ours) in records.items():
        rtol, atol = TOLERANCE[key]
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=f"per-step {key}")
    tsd, nsd = tmodel.state_dict(), nmodel.state_dict()
    assert list(nsd) == list(tsd)
    rtol, atol = TOLERANCE["weights"]
    for k, v in tsd.items():
        np.testing.assert_allclose(nsd[k].numpy(), v.numpy(), rtol=rtol, atol=atol, err_msg=k)


MLP_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9), "StepLR", dict(step_size=10, gamma=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-3),
     "CosineAnnealingLR", dict(T_max=STEPS)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1), "MultiStepLR",
     dict(milestones=[15, 30], gamma=0.3)),
    ("Adam", dict(lr=2e-3), "OneCycleLR", dict(max_lr=2e-3, total_steps=STEPS)),
    ("Adam", dict(lr=2e-3, amsgrad=True, weight_decay=1e-3), "ExponentialLR", dict(gamma=0.97)),
    ("AdamW", dict(lr=2e-3, weight_decay=0.05), "LinearLR",
     dict(start_factor=0.2, total_iters=10)),
    ("RMSprop", dict(lr=1e-3, momentum=0.5), "ReduceLROnPlateau", dict(factor=0.5, patience=2)),
    ("RMSprop", dict(lr=5e-4, centered=True, weight_decay=1e-4), "LambdaLR",
     dict(lr_lambda=lambda step: 1 / (1 + 0.05 * step))),
]


@pytest.mark.parametrize("optimizer,opt_kwargs,scheduler,sched_kwargs", MLP_CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(MLP_CASES)])
def test_mlp_run_matches_torch(batches, optimizer, opt_kwargs, scheduler, sched_kwargs):
    records, tmodel, nmodel = train_both(batches, make_mlp, optimizer, opt_kwargs, scheduler,
                                         sched_kwargs)
    losses = records["loss"][0]
    assert losses[-1] < 0.7 * losses[0]  # it really trained
    assert min(records["norm"][0]) > 0 and max(records["norm"][0]) > 1.0  # clipping was active
    assert_same_run(records, tmodel, nmodel)


def test_cnn_run_matches_torch(batches):
    """Adam: with BatchNorm, the first conv's weight gradient is a sum with heavy cancellation
    (BN removes the mean), so it differs between libraries at ~1e-4 relative; SGD with momentum
    on this small-batch BN net then amplifies that chaotically (1e-7 -> 1e-2 within 20 steps
    for either library against itself under a reordered sum), while Adam's normalised steps
    keep both runs within ~1e-6."""
    records, tmodel, nmodel = train_both(batches, make_cnn, "Adam", dict(lr=3e-3), "OneCycleLR",
                                         dict(max_lr=3e-3, total_steps=STEPS), max_norm=2.0,
                                         dropout_shape=(288,))
    losses = records["loss"][0]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])  # it really trained
    # BatchNorm's running statistics and counter followed the same batches
    assert nmodel.state_dict()["1.num_batches_tracked"].item() == STEPS
    assert_same_run(records, tmodel, nmodel)
    # and in eval mode (running stats, no dropout) the two trained models agree too
    x = batches[0][0]
    tmodel.eval()
    nmodel.eval()
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(nmodel(ndgrad.from_numpy(x)).detach().numpy(), expected,
                               rtol=1e-3, atol=1e-4)


def test_dropout_is_really_random_and_shared_mask_is_ndgrads():
    """The shared-mask trick relies on ndgrad's Dropout drawing from the global generator."""
    drop = ndgrad.nn.Dropout(0.5)
    x = ndgrad.ones(4, 288)
    state = ndgrad.get_rng_state()
    a = drop(x)
    ndgrad.set_rng_state(state)
    b = ndgrad.nn.functional.dropout(ndgrad.ones(4, 288), 0.5)
    assert a.tolist() == b.tolist()
    assert set(np.unique(a.numpy()).tolist()) == {0.0, 2.0}
    assert drop(x).tolist() != a.tolist()  # a new mask each call
    assert drop.eval()(x).tolist() == x.tolist()
