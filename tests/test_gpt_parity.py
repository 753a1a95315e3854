"""Whole-run parity of the GPT that ndgrad-gpt trains: ndgrad's model (ndgrad.cli.gpt, stepped
by the job's own train_step) and the same model in PyTorch (examples/gpt_shakespeare.py run with
``import torch``), from the same weights and on the same batches of Tiny Shakespeare, follow
the same loss for 50 AdamW steps with the job's recipe: weight decay on matrices only, betas
(0.9, 0.99), warmup and cosine decay, gradients clipped to norm 1.

A small configuration (2 layers, 2 heads, 32 dims, context 16, batch 4) keeps it to a second.
"""

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.cli import gpt as job

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gpt_shakespeare.py"
STEPS = 50
SMALL = {**job.DEFAULTS, "n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 16,
         "batch_size": 4, "max_iters": STEPS, "warmup_iters": 5, "lr": 3e-3}
# (rtol of each step's loss, atol of the final weights). Observed: float64 losses agree to
# 3e-15 and weights to 1.3e-13; float32 losses to 4e-6 and weights to 9e-5 (a bias, where
# Adam's division by sqrt(v) magnifies last-bit differences of tiny gradients). The bar
# for float32 losses is 1e-3.
TOLERANCE = {"float64": (1e-12, 1e-12), "float32": (1e-4, 5e-4)}


def load_example(lib_name: str) -> types.ModuleType:
    """examples/gpt_shakespeare.py as a module, on ndgrad or (its import swapped) on torch."""
    source = EXAMPLE.read_text()
    assert "\nimport ndgrad as torch\n" in source
    if lib_name == "torch":
        source = source.replace("\nimport ndgrad as torch\n", "\nimport torch\n")
    module = types.ModuleType(f"gpt_shakespeare_{lib_name}")
    module.__file__ = str(EXAMPLE)
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, str(EXAMPLE), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny matrices: torch's thread pool only adds overhead; the numbers do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def text():
    return ndgrad.datasets.TinyShakespeare()


@pytest.mark.parametrize("dtype,bias", [("float64", True), ("float64", False),
                                        ("float32", False), ("float32", True)])
def test_fifty_adamw_steps_follow_torch(text, dtype, bias):
    c = {**SMALL, "bias": bias}
    ndgrad.manual_seed(0)
    model, optimizer = job.build(c, text.vocab_size)
    model.to(getattr(ndgrad, dtype))

    ex = load_example("torch")
    tmodel = ex.GPT(ex.GPTConfig(block_size=c["block_size"], vocab_size=text.vocab_size,
                                 n_layer=c["n_layer"], n_head=c["n_head"], n_embd=c["n_embd"],
                                 bias=bias)).to(getattr(torch, dtype))
    tmodel.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in model.state_dict().items()})
    topt = tmodel.configure_optimizers(c["weight_decay"], c["lr"], (c["beta1"], c["beta2"]))
    assert [len(g["params"]) for g in topt.param_groups] == \
           [len(g["params"]) for g in optimizer.param_groups]

    gen = ndgrad.Generator().manual_seed(1)
    losses, tlosses = [], []
    for it in range(STEPS):
        x, y = job.get_batch(text.train_data, c["block_size"], c["batch_size"], gen)
        lr = job.get_lr(it, c)
        losses.append(job.train_step(model, optimizer, x, y, lr, c["grad_clip"]))

        for group in topt.param_groups:
            group["lr"] = lr
        _, tloss = tmodel(torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy()))
        topt.zero_grad(set_to_none=True)
        tloss.backward()
        torch.nn.utils.clip_grad_norm_(tmodel.parameters(), c["grad_clip"])
        topt.step()
        tlosses.append(tloss.item())

    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(losses, tlosses, rtol=rtol, atol=0)
    assert losses[-1] < losses[0] - 0.5  # it learned something: the check is not vacuous
    final, tfinal = model.state_dict(), tmodel.state_dict()
    assert list(final) == list(tfinal)
    for key in final:
        np.testing.assert_allclose(final[key].numpy(), tfinal[key].numpy(), rtol=0, atol=atol,
                                   err_msg=key)
