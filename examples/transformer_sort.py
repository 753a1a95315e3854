"""A small encoder-decoder Transformer that learns to sort digits, written as plain PyTorch code
running on ndgrad.

A sequence-to-sequence task that needs no data files: the source is 3 to 8 random digits, the
target the same digits in order. The model is nn.Transformer subclassed as PyTorch's translation
tutorial does it (token embeddings, sinusoidal positions, a generator to the vocabulary), trained
with teacher forcing: padding masks for source and target and the causal mask on the target.
At the end it decodes held-out sequences greedily, one token at a time, and reports how many it
sorts exactly. Replace ``import ndgrad as torch`` by ``import torch`` and the same file trains
on PyTorch.

    python examples/transformer_sort.py              # about a minute: most sequences sorted
    python examples/transformer_sort.py --steps 50   # a quick look
"""

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np

import ndgrad as torch

nn = torch.nn
F = torch.nn.functional

PAD, BOS, EOS = 10, 11, 12  # tokens after the ten digits
VOCAB = 13


@dataclass
class Config:
    steps: int = 1500
    batch_size: int = 64
    min_len: int = 3
    max_len: int = 8
    d_model: int = 64
    nhead: int = 4
    layers: int = 2
    dim_feedforward: int = 128
    dropout: float = 0.1
    lr: float = 1e-3
    seed: int = 0


def make_batch(cfg, rng):
    """src (B, max_len) digits then PAD; tgt (B, max_len + 2): BOS, the sorted digits, EOS,
    then PAD."""
    lengths = rng.integers(cfg.min_len, cfg.max_len + 1, size=cfg.batch_size)
    src = np.full((cfg.batch_size, cfg.max_len), PAD, dtype=np.int64)
    tgt = np.full((cfg.batch_size, cfg.max_len + 2), PAD, dtype=np.int64)
    for b, n in enumerate(lengths):
        digits = rng.integers(0, 10, size=n)
        src[b, :n] = digits
        tgt[b, 0], tgt[b, 1:n + 1], tgt[b, n + 1] = BOS, np.sort(digits), EOS
    return torch.from_numpy(src), torch.from_numpy(tgt)


class PositionalEncoding(nn.Module):
    """Adds sin/cos of the position at geometric frequencies ("Attention Is All You Need")."""

    def __init__(self, d_model, max_len=64):
        super().__init__()
        pos = np.arange(max_len)[:, None]
        freq = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, d_model), dtype=np.float32)
        pe[:, 0::2], pe[:, 1::2] = np.sin(pos * freq), np.cos(pos * freq)
        self.register_buffer("pe", torch.from_numpy(pe))

    def forward(self, x):  # (B, T, d_model)
        return x + self.pe[:x.size(1)]


def padding_mask(tokens):
    """-inf at padding, 0 elsewhere: a float mask, like the causal mask it is combined with."""
    return torch.zeros(tokens.shape).masked_fill(tokens == PAD, float("-inf"))


class Sorter(nn.Transformer):
    def __init__(self, cfg):
        super().__init__(d_model=cfg.d_model, nhead=cfg.nhead, num_encoder_layers=cfg.layers,
                         num_decoder_layers=cfg.layers, dim_feedforward=cfg.dim_feedforward,
                         dropout=cfg.dropout, batch_first=True)
        self.embed = nn.Embedding(VOCAB, cfg.d_model)
        self.pos = PositionalEncoding(cfg.d_model)
        self.generator = nn.Linear(cfg.d_model, VOCAB)
        self.scale = math.sqrt(cfg.d_model)

    def encode(self, src):
        return self.encoder(self.pos(self.embed(src) * self.scale),
                            src_key_padding_mask=padding_mask(src))  # (B, S, d_model)

    def decode(self, tgt, memory, src):
        mask = self.generate_square_subsequent_mask(tgt.size(1))  # no peeking ahead
        out = self.decoder(self.pos(self.embed(tgt) * self.scale), memory, tgt_mask=mask,
                           tgt_key_padding_mask=padding_mask(tgt),
                           memory_key_padding_mask=padding_mask(src), tgt_is_causal=True)
        return self.generator(out)  # logits (B, T, VOCAB)

    def forward(self, src, tgt):
        return self.decode(tgt, self.encode(src), src)


def greedy_decode(model, src, steps):
    """Start from BOS and append the most likely next token, ``steps`` times."""
    memory = model.encode(src)
    out = torch.full((src.size(0), 1), BOS, dtype=torch.int64)
    for _ in range(steps):
        logits = model.decode(out, memory, src)[:, -1]
        out = torch.cat([out, logits.argmax(-1, keepdim=True)], dim=1)
    return out


def accuracy(model, cfg, batches=4):
    """The fraction of held-out sequences sorted exactly (up to and including EOS)."""
    model.eval()
    rng = np.random.default_rng(10_000 + cfg.seed)
    right = total = 0
    with torch.no_grad():
        for _ in range(batches):
            src, tgt = make_batch(cfg, rng)
            pred = greedy_decode(model, src, tgt.size(1) - 1).numpy()
            want = tgt.numpy()
            for p, w in zip(pred, want):
                n = int((w != PAD).sum())  # BOS, digits, EOS
                right += bool((p[:n] == w[:n]).all())
                total += 1
    model.train()
    return right / total


def main():
    parser = argparse.ArgumentParser(description="a Transformer that sorts digits")
    for name, value in vars(Config()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    cfg = Config(**vars(parser.parse_args()))

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = Sorter(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr,
                                                    total_steps=cfg.steps, pct_start=0.1)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        src, tgt = make_batch(cfg, rng)
        logits = model(src, tgt[:, :-1])  # teacher forcing: predict tgt[:, 1:]
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1),
                               ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 100 == 0 or step == cfg.steps:
            print(f"step {step}: loss {loss.item():.3f} ({time.perf_counter() - t0:.1f} s)",
                  flush=True)
    src, _ = make_batch(cfg, np.random.default_rng(99))
    pred = greedy_decode(model.eval(), src[:3], cfg.max_len + 1).numpy()
    for s, p in zip(src[:3].numpy(), pred):
        p = list(p[1:]) + [EOS]
        print(" ".join(str(d) for d in s if d != PAD), "->",
              " ".join(str(d) for d in p[:p.index(EOS)]))
    print(f"accuracy={accuracy(model, cfg):.4f}")


if __name__ == "__main__":
    main()
