"""nanoGPT's model.py style of code runs on ndgrad as on torch: the model below is written the
way nanoGPT writes it (its own LayerNorm over F.layer_norm, the flash and the masked "slow"
attention with a registered tril buffer, weight tying, ``self.apply`` init, cross_entropy with
ignore_index=-1, configure_optimizers probing AdamW's signature for ``fused``,
crop_block_size, generate with topk and multinomial), once per library from the same source.
nanoGPT's own file is not part of the repository; this is the same code path, kept here."""

import inspect
import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import ndgrad


def nanogpt(torch):
    """nanoGPT's model classes, written against the library passed in as ``torch``."""
    nn = torch.nn
    F = torch.nn.functional

    class LayerNorm(nn.Module):
        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(ndim))
            self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

        def forward(self, input):
            return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self, config):
            super().__init__()
            assert config.n_embd % config.n_head == 0
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.attn_dropout = nn.Dropout(config.dropout)
            self.resid_dropout = nn.Dropout(config.dropout)
            self.n_head = config.n_head
            self.n_embd = config.n_embd
            self.dropout = config.dropout
            self.flash = hasattr(torch.nn.functional, "scaled_dot_product_attention") \
                and config.flash
            if not self.flash:
                self.register_buffer("bias", torch.tril(torch.ones(config.block_size,
                                                                   config.block_size))
                                     .view(1, 1, config.block_size, config.block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.flash:
                y = torch.nn.functional.scaled_dot_product_attention(
                    q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0,
                    is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                att = self.attn_dropout(att)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            x = self.c_fc(x)
            x = self.gelu(x)
            x = self.c_proj(x)
            return self.dropout(x)

    class Block(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP(config)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    @dataclass
    class GPTConfig:
        block_size: int = 16
        vocab_size: int = 65
        n_layer: int = 2
        n_head: int = 2
        n_embd: int = 32
        dropout: float = 0.0
        bias: bool = True
        flash: bool = True  # False: the masked attention nanoGPT falls back to

    class GPT(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            ))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def get_num_params(self, non_embedding=True):
            n_params = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n_params -= self.transformer.wpe.weight.numel()
            return n_params

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            device = idx.device
            b, t = idx.size()
            assert t <= self.config.block_size
            pos = torch.arange(0, t, dtype=torch.long, device=device)
            tok_emb = self.transformer.wte(idx)
            pos_emb = self.transformer.wpe(pos)
            x = self.transformer.drop(tok_emb + pos_emb)
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])
                loss = None
            return logits, loss

        def crop_block_size(self, block_size):
            assert block_size <= self.config.block_size
            self.config.block_size = block_size
            self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])
            for block in self.transformer.h:
                if hasattr(block.attn, "bias"):
                    block.attn.bias = block.attn.bias[:, :, :block_size, :block_size]

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            param_dict = {pn: p for pn, p in self.named_parameters()}
            param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [
                {"params": decay_params, "weight_decay": weight_decay},
                {"params": nodecay_params, "weight_decay": 0.0},
            ]
            fused_available = "fused" in inspect.signature(torch.optim.AdamW).parameters
            use_fused = fused_available and device_type == "cuda"
            extra_args = dict(fused=True) if use_fused else dict()
            return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)

        @torch.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= self.config.block_size \
                    else idx[:, -self.config.block_size:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = torch.multinomial(probs, num_samples=1)
                idx = torch.cat((idx, idx_next), dim=1)
            return idx

    return SimpleNamespace(GPT=GPT, GPTConfig=GPTConfig)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def twins(dtype="float64", **config):
    """The same nanoGPT-style model in ndgrad and in torch, with ndgrad's initial weights."""
    ndgrad.manual_seed(0)
    nd, th = nanogpt(ndgrad), nanogpt(torch)
    a = nd.GPT(nd.GPTConfig(**config)).to(getattr(ndgrad, dtype))
    b = th.GPT(th.GPTConfig(**config)).to(getattr(torch, dtype))
    b.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in a.state_dict().items()})
    return a, b


def batch(rows=3, t=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 65, (rows, t))
    y = rng.integers(0, 65, (rows, t))
    y[0, :5] = -1  # ignored positions (ignore_index=-1)
    return x, y


@pytest.mark.parametrize("flash", [True, False])
def test_forward_and_gradients_match_torch(flash):
    a, b = twins(flash=flash)
    assert ("transformer.h.0.attn.bias" in a.state_dict()) == (not flash)
    assert a.get_num_params() == b.get_num_params()
    x, y = batch()
    logits, loss = a(ndgrad.from_numpy(x), ndgrad.from_numpy(y))
    tlogits, tloss = b(torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_allclose(logits.detach().numpy(), tlogits.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    loss.backward()
    tloss.backward()
    tgrads = dict(b.named_parameters())
    for name, p in a.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("flash", [True, False])
def test_trains_like_torch(flash):
    a, b = twins("float32", flash=flash, bias=False)
    opt = a.configure_optimizers(0.1, 3e-3, (0.9, 0.99), "cpu")
    topt = b.configure_optimizers(0.1, 3e-3, (0.9, 0.99), "cpu")
    losses, tlosses = [], []
    for step in range(20):
        x, y = batch(4, seed=step % 3)  # three batches in turn: the loss must fall
        for model, o, lib, out in ((a, opt, ndgrad, losses), (b, topt, torch, tlosses)):
            _, loss = model(lib.from_numpy(x), lib.from_numpy(y))
            o.zero_grad(set_to_none=True)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            o.step()
            out.append(loss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-4)
    assert losses[-1] < losses[0] - 0.5


@pytest.mark.parametrize("flash", [True, False])
def test_generate_and_crop_block_size(flash):
    a, b = twins(flash=flash)
    for model in (a, b):  # large weights: greedy decoding then varies from token to token
        for p in model.parameters():
            p.data.mul_(20)
        model.eval()
    start = np.array([[1, 2, 3], [40, 50, 60]])
    # top_k=1 is greedy: torch and ndgrad pick the same 20 tokens, past the block size
    greedy = a.generate(ndgrad.from_numpy(start), 20, temperature=0.8, top_k=1)
    tgreedy = b.generate(torch.from_numpy(start), 20, temperature=0.8, top_k=1)
    assert greedy.tolist() == tgreedy.tolist()
    assert len(set(greedy[:, 3:].flatten().tolist())) > 2
    # sampled among the 3 likeliest: each new token is one of the top 3 for its context
    ndgrad.manual_seed(0)
    sampled = a.generate(ndgrad.from_numpy(start), 10, top_k=3)
    assert sampled.shape == (2, 13)
    with ndgrad.no_grad():
        for t in range(3, 13):
            logits, _ = a(sampled[:, max(0, t - 16):t])
            top3 = logits[:, -1].topk(3).indices.tolist()
            assert all(tok in top for tok, top in zip(sampled[:, t].tolist(), top3))

    for model in (a, b):
        model.crop_block_size(8)
    x, y = batch(2, 8)
    with ndgrad.no_grad(), torch.no_grad():
        got = a(ndgrad.from_numpy(x), ndgrad.from_numpy(y))[1].item()
        assert got == pytest.approx(b(torch.from_numpy(x), torch.from_numpy(y))[1].item(),
                                    rel=1e-10)
    assert a.transformer.wpe.weight.shape == (8, 32)
