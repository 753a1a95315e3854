"""ndgrad.distributed.optim: optimizers for data-parallel training (torch.distributed.optim).

``ZeroRedundancyOptimizer`` shards an optimizer's state across the ranks (ZeRO stage 1).
"""

from ndgrad.distributed.optim.zero_redundancy_optimizer import ZeroRedundancyOptimizer

__all__ = ["ZeroRedundancyOptimizer"]
