"""AdaptiveLogSoftmaxWithLoss: the softmax of a large vocabulary split into a head (frequent
classes plus one entry per cluster) and smaller tail clusters (Grave et al., 2016)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ndgrad.nn import functional as F
from ndgrad.nn.module import Module
from ndgrad.nn.modules.container import ModuleList, Sequential
from ndgrad.nn.modules.linear import Linear
from ndgrad.tensor import Tensor, cat


class _ASMoutput(NamedTuple):
    """What forward returns: each sample's target log-probability, and their mean negation."""

    output: Tensor
    loss: Tensor


class AdaptiveLogSoftmaxWithLoss(Module):
    """log p(class) = log p_head(class) for the shortlist (classes below cutoffs[0]), else
    log p_head(cluster) + log p_cluster(class); cluster i projects to in_features // div_value
    ** (i + 1) features first. Parameter names are torch's (head, tail.i.0, tail.i.1)."""

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int],
                 div_value: float = 4.0, head_bias: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList(
            Sequential(Linear(in_features, int(in_features // (div_value ** (i + 1))),
                              bias=False, device=device, dtype=dtype),
                       Linear(int(in_features // (div_value ** (i + 1))),
                              self.cutoffs[i + 1] - self.cutoffs[i], bias=False, device=device,
                              dtype=dtype))
            for i in range(self.n_clusters))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for projection in self.tail:
            for linear in projection.children():
                linear.reset_parameters()

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        """(N, in_features) inputs and (N,) targets (or (in_features,) and 0-d) -> each
        target's log-probability and the mean negative log-likelihood."""
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        t = target_._data.reshape(-1).astype(np.int64)
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{int(t.min())}, {int(t.max())}] were found. ")
        # 0 for the shortlist, i for tail cluster i - 1
        cluster = np.searchsorted(np.array(self.cutoffs), t, side="right")
        head_index = np.where(cluster == 0, t, self.shortlist_size + cluster - 1)
        head_logprob = F.log_softmax(self.head(input), dim=1)
        output = head_logprob.gather(1, Tensor._make(head_index[:, None])).squeeze(1)
        for i in range(1, self.n_clusters + 1):
            rows = np.flatnonzero(cluster == i)
            if not rows.size:
                continue
            local = F.log_softmax(self.tail[i - 1](input[rows]), dim=1)
            relative = Tensor._make((t[rows] - self.cutoffs[i - 1])[:, None])
            output = output.index_add(0, Tensor._make(rows), local.gather(1, relative).squeeze(1))
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        """(N, n_classes) log-probabilities from the input and the head's output."""
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i, tail in enumerate(self.tail):
            cluster_logprob = F.log_softmax(tail(input), dim=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, dim=1)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities (N, n_classes) of every class."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:
        """The most probable class of each row: log_prob(input).argmax(1), with the tails run
        only for the rows whose head's best entry is a cluster."""
        head_output = self.head(input)
        output = head_output.argmax(dim=1)
        not_in_shortlist = output._data >= self.shortlist_size
        if not not_in_shortlist.any():
            return output
        rows = np.flatnonzero(not_in_shortlist)
        best = self._get_full_log_prob(input[rows], head_output[rows]).argmax(dim=1)
        out = output._data.copy()
        out[rows] = best._data
        return Tensor._make(out)
