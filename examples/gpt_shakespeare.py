"""A character-level GPT trained on Tiny Shakespeare, written as plain PyTorch code on ndgrad.

One file that reads top to bottom, as nanoGPT's model.py and train.py: the model, the data, the
training loop, then a sample. The defaults are nanoGPT's CPU "baby" run (4 layers, 4 heads,
128 dims, context 64, batch 12, 2,000 iterations), which reaches a validation loss near 1.9.
Replace ``import ndgrad as torch`` by ``import torch`` and the same file trains on PyTorch:
only ``load_data`` reaches for ndgrad (its dataset reader finds the shipped text).

    python examples/gpt_shakespeare.py                       # about val loss 1.9
    python examples/gpt_shakespeare.py --max-iters 200 --eval-iters 20
"""

import argparse
import math
import time
from dataclasses import dataclass

import ndgrad as torch

nn = torch.nn
F = torch.nn.functional


# -- the model ----------------------------------------------------------------------------------
@dataclass
class GPTConfig:
    block_size: int = 64  # the longest context the model sees
    vocab_size: int = 65  # the distinct characters of Tiny Shakespeare
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False  # no biases in the Linears and LayerNorms: a bit better and faster


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout

    def forward(self, x):
        B, T, C = x.size()  # batch, time (sequence length), channels (n_embd)
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        # each position attends to itself and the positions before it: (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0,
                                           is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # the heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))  # communicate between positions
        x = x + self.mlp(self.ln_2(x))  # think about each position on its own
        return x


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embeddings
            wpe=nn.Embedding(config.block_size, config.n_embd),  # position embeddings
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as GPT-2
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual outputs
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        assert t <= self.config.block_size, f"sequence of {t} > block size {self.config.block_size}"
        pos = torch.arange(0, t, dtype=torch.long)  # (t,)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)  # (b, t, n_embd)
        if targets is None:  # generating: only the last position's logits are needed
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)  # (b, t, vocab_size)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        """AdamW that decays the matrices (Linear and Embedding weights) but not the gains."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Extend each row of idx (b, t) by max_new_tokens sampled characters."""
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.config.block_size else \
                idx[:, -self.config.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature  # (b, vocab_size)
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)  # (b, 1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# -- the data -----------------------------------------------------------------------------------
def load_data():
    """Tiny Shakespeare as int64 character ids, split 90/10 as nanoGPT's prepare.py does."""
    from ndgrad.datasets import TinyShakespeare  # the copy shipped with ndgrad

    ds = TinyShakespeare()
    train_data = torch.from_numpy(ds.train_data.numpy())
    val_data = torch.from_numpy(ds.val_data.numpy())
    return train_data, val_data, ds.encode, ds.decode, ds.vocab_size


def get_batch(data, block_size, batch_size):
    """batch_size random windows of the text; the targets are the inputs shifted by one."""
    ix = torch.randint(len(data) - block_size, (batch_size,))
    offsets = ix[:, None] + torch.arange(block_size)  # (B, T)
    return data[offsets], data[offsets + 1]


@torch.no_grad()
def estimate_loss(model, splits, eval_iters, block_size, batch_size):
    """The mean loss over eval_iters random batches of each split, in eval mode."""
    model.eval()
    out = {}
    for name, data in splits.items():
        losses = [model(*get_batch(data, block_size, batch_size))[1].item()
                  for _ in range(eval_iters)]
        out[name] = sum(losses) / len(losses)
    model.train()
    return out


def get_lr(it, learning_rate, min_lr, warmup_iters, lr_decay_iters):
    """Linear warmup, then cosine decay to min_lr (nanoGPT's schedule)."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)


# -- the training loop --------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description="Character-level GPT on Tiny Shakespeare")
    parser.add_argument("--max-iters", type=int, default=2000)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--eval-iters", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()
    block_size, batch_size = 64, args.batch_size
    warmup_iters, min_lr = 100, 1e-4

    torch.manual_seed(args.seed)
    train_data, val_data, encode, decode, vocab_size = load_data()
    splits = {"train": train_data, "val": val_data}
    model = GPT(GPTConfig(block_size=block_size, vocab_size=vocab_size))
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=args.lr,
                                           betas=(0.9, 0.99))
    t0 = time.perf_counter()
    for it in range(args.max_iters + 1):
        if it % args.eval_interval == 0 or it == args.max_iters:
            losses = estimate_loss(model, splits, args.eval_iters, block_size, batch_size)
            print(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
        if it == args.max_iters:
            break
        lr = get_lr(it, args.lr, min_lr, warmup_iters, args.max_iters)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, block_size, batch_size)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    model.eval()
    start = torch.tensor([encode("\n")], dtype=torch.long)  # (1, 1)
    print(decode(model.generate(start, 300, temperature=0.8, top_k=200)[0].tolist()))
    print(f"val_loss={losses['val']:.4f}")


if __name__ == "__main__":
    main()
