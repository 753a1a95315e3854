"""A character-level LSTM on Tiny Shakespeare (char-rnn), written as plain PyTorch code running
on ndgrad.

The model reads 64 characters and predicts, at every position, the next one: an embedding, a
two-layer LSTM and a linear layer to the 65 characters' logits. Training samples random windows
of the first 90% of the text; the last 10% measures the validation loss. At the end the model
writes some Shakespeare of its own, one character at a time, carrying the LSTM's state along.
Replace ``import ndgrad as torch`` by ``import torch`` and the same file trains on PyTorch.

    python examples/char_lstm.py                 # about a minute: val loss about 1.9 nats/char
    python examples/char_lstm.py --steps 30      # a quick look

The text is read from $NDGRAD_DATA/tinyshakespeare/input.txt(.gz), else from the shared
datasets folder beside the repository (../shared/datasets).
"""

import argparse
import gzip
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ndgrad as torch

nn = torch.nn
F = torch.nn.functional


@dataclass
class Config:
    steps: int = 800
    batch_size: int = 32
    seq_len: int = 64
    embed: int = 64
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.1
    lr: float = 3e-3
    clip: float = 1.0  # gradient norm: LSTMs trained through time need clipping
    seed: int = 0


def load_text():
    """The corpus as one string (1,115,394 characters)."""
    repo = Path(__file__).resolve().parents[1]
    dirs = [Path(d) for d in (os.environ.get("NDGRAD_DATA"), repo.parent / "shared/datasets") if d]
    for d in dirs:
        for name in ("input.txt", "input.txt.gz"):
            path = d / "tinyshakespeare" / name
            if path.is_file():
                data = path.read_bytes()
                return (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8")
    raise FileNotFoundError(f"tinyshakespeare/input.txt(.gz) not found in any of {dirs}")


class CharLSTM(nn.Module):
    def __init__(self, vocab, cfg):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.embed)
        self.lstm = nn.LSTM(cfg.embed, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout)
        self.head = nn.Linear(cfg.hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)  # (B, T, E) -> (B, T, H)
        return self.head(out), state  # logits (B, T, vocab), (h, c) each (layers, B, H)


def get_batch(data, cfg, rng):
    """Random windows: inputs (B, T) and the same shifted by one character, the targets."""
    starts = rng.integers(0, len(data) - cfg.seq_len - 1, size=cfg.batch_size)
    idx = starts[:, None] + np.arange(cfg.seq_len + 1)
    chunk = torch.from_numpy(data[idx])
    return chunk[:, :-1], chunk[:, 1:]


def evaluate(model, data, cfg, batches=10):
    model.eval()
    rng = np.random.default_rng(1234)  # the same validation windows every time
    total = 0.0
    with torch.no_grad():
        for _ in range(batches):
            x, y = get_batch(data, cfg, rng)
            logits, _ = model(x)
            total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).item()
    model.train()
    return total / batches


def sample(model, chars, prompt, length, temperature=0.8, seed=0):
    """Feed the prompt, then draw each next character from the softmax of the logits."""
    stoi = {c: i for i, c in enumerate(chars)}
    rng = np.random.default_rng(seed)
    model.eval()
    out = list(prompt)
    with torch.no_grad():
        x = torch.tensor([[stoi[c] for c in prompt]])
        state = None
        for _ in range(length):
            logits, state = model(x, state)  # state carries everything read so far
            probs = F.softmax(logits[0, -1] / temperature, dim=-1).numpy().astype(np.float64)
            nxt = int(rng.choice(len(chars), p=probs / probs.sum()))
            out.append(chars[nxt])
            x = torch.tensor([[nxt]])
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description="character-level LSTM on Tiny Shakespeare")
    for name, value in vars(Config()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--sample", type=int, default=300, help="characters to generate")
    cfg = Config(**{k: v for k, v in vars(parser.parse_args()).items() if k != "sample"})
    n_sample = parser.parse_args().sample

    text = load_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(len(data) * 0.9)
    train_data, val_data = data[:split], data[split:]

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = CharLSTM(len(chars), cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.steps,
                                                           eta_min=cfg.lr / 10)
    print(f"{len(text):,} characters, {len(chars)} distinct; "
          f"{sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        x, y = get_batch(train_data, cfg, rng)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        scheduler.step()
        if step % 100 == 0 or step == cfg.steps:
            print(f"step {step}: train loss {loss.item():.3f} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
    val_loss = evaluate(model, val_data, cfg)
    if n_sample:
        print("---\n" + sample(model, chars, "ROMEO:\n", n_sample) + "\n---")
    print(f"val_loss={val_loss:.4f}")


if __name__ == "__main__":
    main()
