"""Karpathy's "Neural Networks: Zero to Hero" makemore lectures on ndgrad, against torch.

The notebooks seed ``torch.Generator().manual_seed(2147483647)``; ndgrad's streams differ from
torch's (ndgrad/random.py says so), so these tests draw the weights and batches from torch and
copy them in, as a learner comparing the two libraries would.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as NF

# the first 200 names of makemore's names.txt
NAMES = """
emma olivia ava isabella sophia charlotte mia amelia harper evelyn abigail emily
elizabeth mila ella avery sofia camila aria scarlett victoria madison luna grace chloe
penelope layla riley zoey nora lily eleanor hannah lillian addison aubrey ellie stella
natalie zoe leah hazel violet aurora savannah audrey brooklyn bella claire skylar lucy
paisley everly anna caroline nova genesis emilia kennedy samantha maya willow kinsley
naomi aaliyah elena sarah ariana allison gabriella alice madelyn cora ruby eva serenity
autumn adeline hailey gianna valentina isla eliana quinn nevaeh ivy sadie piper lydia
alexa josephine emery julia delilah arianna vivian kaylee sophie brielle madeline peyton
rylee clara hadley melanie mackenzie reagan adalynn liliana aubree jade katherine
isabelle natalia raelynn maria athena ximena arya leilani taylor faith rose kylie
alexandra mary margaret lyla ashley amaya eliza brianna bailey andrea khloe jasmine
melody iris isabel norah annabelle valeria emerson adalyn ryleigh eden emersyn anastasia
kayla alyssa juliana charlie esther ariel cecilia valerie alina molly reese aliyah lilly
parker finley morgan sydney jordyn eloise trinity daisy kimberly lauren genevieve sara
arabella harmony elise remi teagan alexis london sloane laila lucia diana juliette
sienna elliana londyn ayla callie gracie josie amara jocelyn daniela everleigh mya
rachel summer alana
""".split()


def _dataset(words: list[str], block_size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """makemore's build_dataset: every context of block_size characters and the next one."""
    stoi = {s: i + 1 for i, s in enumerate(sorted(set("".join(words))))}
    stoi["."] = 0
    xs, ys = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            xs.append(context)
            ys.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    return np.array(xs), np.array(ys)


def _torch_randn(*shapes: tuple[int, ...]) -> list[np.ndarray]:
    g = torch.Generator().manual_seed(2147483647)
    return [torch.randn(s, generator=g).numpy() for s in shapes]


def _equal(a: object, b: object) -> bool:
    """Bit for bit: a torch tensor and an ndgrad one."""
    return np.array_equal(a.detach().numpy(), b.detach().numpy())  # type: ignore[attr-defined]


# -- fixes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("exponent", [-0.5, -1, -2, 2, 3, 3.0, 0.5])
def test_pow_python_exponent_rounds_as_torch(exponent: float, dtype: str) -> None:
    """torch runs x ** -0.5 as 1 / sqrt(x) (its rsqrt kernel), x ** 3 as x * x * x, x ** -2 as
    1 / (x * x), and differentiates x ** e as grad * (e * x ** (e - 1)) with the same kernels:
    np.power rounds otherwise in a third of float32 elements. Part 4's
    ``bnvar_inv = (bnvar + 1e-5)**-0.5`` then matches torch to the bit."""
    x = np.abs(np.random.default_rng(0).standard_normal(4096)).astype(dtype) * 3 + 1e-3
    g = np.random.default_rng(1).standard_normal(4096).astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    n = ndgrad.tensor(x, requires_grad=True)
    (t ** exponent).backward(torch.tensor(g))
    (n ** exponent).backward(ndgrad.tensor(g))
    if exponent != 0.5:  # torch's sqrt kernel is MKL's, not IEEE's: NumPy's sqrt is exact
        assert _equal(t ** exponent, n ** exponent)
        assert _equal(t.pow(exponent), n.pow(exponent))
    if exponent not in (-0.5, -2):  # their derivatives call pow(x, -1.5) and pow(x, -3)
        assert _equal(t.grad, n.grad)
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-6 if dtype == "float32"
                               else 1e-13)


@pytest.mark.parametrize("c", [3.0, 0.7, -5, 1.0])
def test_scalar_divided_by_tensor_is_reciprocal_times_scalar(c: float) -> None:
    """torch's Tensor.__rtruediv__ is ``self.reciprocal() * other``: two roundings, which
    differ from a true division in a third of float32 elements; its gradient goes through
    MulBackward and ReciprocalBackward."""
    x = np.random.default_rng(0).standard_normal(4096).astype(np.float32) * 3
    g = np.random.default_rng(1).standard_normal(4096).astype(np.float32)
    t = torch.tensor(x, requires_grad=True)
    n = ndgrad.tensor(x, requires_grad=True)
    (c / t).backward(torch.tensor(g))
    (c / n).backward(ndgrad.tensor(g))
    assert _equal(c / t, c / n)
    assert _equal(t.grad, n.grad)
    ints = torch.tensor([1, 2, 3, 0])  # an integer tensor divides into floats
    assert _equal(c / ints, c / ndgrad.tensor([1, 2, 3, 0]))
    assert (c / ndgrad.tensor([1, 2])).dtype == ndgrad.float32


# -- part 4: becoming a backprop ninja ---------------------------------------------------------
def _part4_forward(lib: object, params: list, xb: np.ndarray, yb: np.ndarray) -> dict:
    """makemore part 4's forward pass, "chunkated" into steps backward can reach one by one."""
    t = lib  # torch or ndgrad: the same code runs on both
    C, W1, b1, W2, b2, bngain, bnbias = params
    Xb, Yb = t.tensor(xb), t.tensor(yb)
    n = len(xb)
    v = {}
    v["emb"] = C[Xb]
    v["embcat"] = v["emb"].view(v["emb"].shape[0], -1)
    v["hprebn"] = v["embcat"] @ W1 + b1
    v["bnmeani"] = 1 / n * v["hprebn"].sum(0, keepdim=True)
    v["bndiff"] = v["hprebn"] - v["bnmeani"]
    v["bndiff2"] = v["bndiff"] ** 2
    v["bnvar"] = 1 / (n - 1) * (v["bndiff2"]).sum(0, keepdim=True)
    v["bnvar_inv"] = (v["bnvar"] + 1e-5) ** -0.5
    v["bnraw"] = v["bndiff"] * v["bnvar_inv"]
    v["hpreact"] = bngain * v["bnraw"] + bnbias
    v["h"] = t.tanh(v["hpreact"])
    v["logits"] = v["h"] @ W2 + b2
    v["logit_maxes"] = v["logits"].max(1, keepdim=True).values
    v["norm_logits"] = v["logits"] - v["logit_maxes"]
    v["counts"] = v["norm_logits"].exp()
    v["counts_sum"] = v["counts"].sum(1, keepdims=True)
    v["counts_sum_inv"] = v["counts_sum"] ** -1
    v["probs"] = v["counts"] * v["counts_sum_inv"]
    v["logprobs"] = v["probs"].log()
    loss = -v["logprobs"][range(n), Yb].mean()
    for x in v.values():
        x.retain_grad()
    loss.backward()
    return {"loss": loss, **v}


def test_makemore_part4_manual_backprop_is_exact() -> None:
    """Part 4's exercise 1 on ndgrad: every hand-written gradient equals autograd's to the bit
    (``cmp`` prints exact: True, as in the lecture), and the forward matches torch's."""
    X, Y = _dataset(NAMES)
    n_embd, n_hidden, block_size, vocab_size = 10, 64, 3, 27
    init = _torch_randn((vocab_size, n_embd), (n_embd * block_size, n_hidden), (n_hidden,),
                        (n_hidden, vocab_size), (vocab_size,), (1, n_hidden), (1, n_hidden))
    scale = [1.0, (5 / 3) / (n_embd * block_size) ** 0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
    init = [(a * s).astype(np.float32) for a, s in zip(init, scale)]
    init[5] = init[5] + np.float32(1.0)  # bngain
    ix = torch.randint(0, len(X), (32,), generator=torch.Generator().manual_seed(1)).numpy()
    xb, yb = X[ix], Y[ix]
    out = {}
    for lib in (torch, ndgrad):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in init]
        out[lib] = (params, _part4_forward(lib, params, xb, yb))
    (C, W1, b1, W2, b2, bngain, bnbias), v = out[ndgrad]
    tv = out[torch][1]
    np.testing.assert_allclose(v["loss"].item(), tv["loss"].item(), rtol=1e-6)
    # the same variance in, torch's (var + eps) ** -0.5 out, to the bit
    bnvar = tv["bnvar"].detach().numpy()
    assert np.array_equal(((ndgrad.tensor(bnvar) + 1e-5) ** -0.5).numpy(),
                          ((torch.tensor(bnvar) + 1e-5) ** -0.5).numpy())

    F, n = NF, 32
    Xb = ndgrad.tensor(xb)
    g = {}
    g["logprobs"] = ndgrad.zeros_like(v["logprobs"])
    g["logprobs"][range(n), ndgrad.tensor(yb)] = -1.0 / n
    g["probs"] = (1.0 / v["probs"]) * g["logprobs"]
    g["counts_sum_inv"] = (v["counts"] * g["probs"]).sum(1, keepdim=True)
    g["counts"] = v["counts_sum_inv"] * g["probs"]
    g["counts_sum"] = (-v["counts_sum"] ** -2) * g["counts_sum_inv"]
    g["counts"] += ndgrad.ones_like(v["counts"]) * g["counts_sum"]
    g["norm_logits"] = v["counts"] * g["counts"]
    g["logits"] = g["norm_logits"].clone()
    g["logit_maxes"] = (-g["norm_logits"]).sum(1, keepdim=True)
    g["logits"] += F.one_hot(v["logits"].max(1).indices, num_classes=27) * g["logit_maxes"]
    g["h"] = g["logits"] @ W2.T
    g["W2"] = v["h"].T @ g["logits"]
    g["b2"] = g["logits"].sum(0)
    g["hpreact"] = (1.0 - v["h"] ** 2) * g["h"]
    g["bngain"] = (v["bnraw"] * g["hpreact"]).sum(0, keepdim=True)
    g["bnraw"] = bngain * g["hpreact"]
    g["bnbias"] = g["hpreact"].sum(0, keepdim=True)
    g["bndiff"] = v["bnvar_inv"] * g["bnraw"]
    g["bnvar_inv"] = (v["bndiff"] * g["bnraw"]).sum(0, keepdim=True)
    g["bnvar"] = (-0.5 * (v["bnvar"] + 1e-5) ** -1.5) * g["bnvar_inv"]
    g["bndiff2"] = (1.0 / (n - 1)) * ndgrad.ones_like(v["bndiff2"]) * g["bnvar"]
    g["bndiff"] += (2 * v["bndiff"]) * g["bndiff2"]
    g["hprebn"] = g["bndiff"].clone()
    g["bnmeani"] = (-g["bndiff"]).sum(0, keepdim=True)
    g["hprebn"] += 1.0 / n * (ndgrad.ones_like(v["hprebn"]) * g["bnmeani"])
    g["embcat"] = g["hprebn"] @ W1.T
    g["W1"] = v["embcat"].T @ g["hprebn"]
    g["b1"] = g["hprebn"].sum(0)
    g["emb"] = g["embcat"].view(v["emb"].shape)
    g["C"] = ndgrad.zeros_like(C)
    for k in range(Xb.shape[0]):
        for j in range(Xb.shape[1]):
            g["C"][Xb[k, j]] += g["emb"][k, j]
    leaves = {"C": C, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "bngain": bngain,
              "bnbias": bnbias}
    for name, d in g.items():
        t = leaves.get(name, v.get(name))
        assert ndgrad.all(d == t.grad).item(), name  # cmp's "exact"
        torch_grad = (out[torch][0][list(leaves).index(name)] if name in leaves
                      else tv[name]).grad.numpy()
        np.testing.assert_allclose(d.detach().numpy(), torch_grad, rtol=1e-4, atol=1e-8,
                                   err_msg=name)


# -- part 2: the MLP, end to end -------------------------------------------------------------------
def _train_mlp(lib: object, F: object, init: list[np.ndarray], X: np.ndarray, Y: np.ndarray,
               batches: list[np.ndarray]) -> list[float]:
    """makemore part 2's training loop: C[Xb], a tanh layer, cross_entropy, p.data -= lr * grad."""
    t = lib
    parameters = [t.tensor(a.copy()) for a in init]
    C, W1, b1, W2, b2 = parameters
    for p in parameters:
        p.requires_grad = True
    Xtr, Ytr = t.tensor(X), t.tensor(Y)
    losses = []
    for i, batch in enumerate(batches):
        ix = t.tensor(batch)
        emb = C[Xtr[ix]]  # (32, 3, 10)
        h = t.tanh(emb.view(-1, 30) @ W1 + b1)  # (32, 200)
        logits = h @ W2 + b2  # (32, 27)
        loss = F.cross_entropy(logits, Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < 15 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        losses.append(loss.item())
    return losses


def test_makemore_mlp_trains_as_torch() -> None:
    """The MLP of part 2, with its unscaled randn weights (the loss starts at 25), for 20 steps
    from torch's weights and batches: every loss is torch's to float32 rounding. Rounding
    differences (NumPy's sums, exp and BLAS against torch's) grow with the steps; over the
    lecture's 200,000 they part the curves, as they part torch's own curve run with
    ATEN_CPU_CAPABILITY=avx2 from its avx512 one."""
    X, Y = _dataset(NAMES)
    init = _torch_randn((27, 10), (30, 200), (200,), (200, 27), (27,))
    g = torch.Generator().manual_seed(2147483647)
    batches = [torch.randint(0, len(X), (32,), generator=g).numpy() for _ in range(20)]
    ours = _train_mlp(ndgrad, NF, init, X, Y, batches)
    theirs = _train_mlp(torch, TF, init, X, Y, batches)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert theirs[-1] < theirs[0] - 5  # it learns
