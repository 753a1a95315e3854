"""ZeroRedundancyOptimizer: torch's sharded optimizer (ZeRO stage 1, arXiv:1910.02054).

Every rank holds the whole model, but each parameter is *owned* by one rank: only its owner
keeps optimizer state for it (momentum, Adam's moving averages) and updates it. ``step()``
runs the wrapped optimizer on this rank's shard, then each owner broadcasts the parameters it
updated, so every replica ends the step with the same weights, while the optimizer state
takes about 1/world_size of the memory on each rank.

The shards are torch's: within each param group, parameters largest first, each to the rank
with the fewest elements so far (sizes carried from group to group), so that a checkpoint's
ownership matches torch's for the same model. ``state_dict()`` is torch's format, indexed
over all parameters, once ``consolidate_state_dict(to)`` gathered every rank's shard on
rank ``to``.

The parameters' shapes and dtypes are compared across ranks once, when the optimizer is
built (and in ``add_param_group``); the broadcasts of ``step()`` then go to MPI unchecked,
as DDP's gradient buckets do.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import numpy as np

from ndgrad.distributed.process_group import ProcessGroup, _default_group, _mpi, _not_member
from ndgrad.optim.optimizer import Optimizer, StateDict
from ndgrad.tensor import Tensor
from ndgrad.tensor.functions import typename

__all__ = ["ZeroRedundancyOptimizer"]

logger = logging.getLogger(__name__)

ParamGroup = dict[str, Any]


def _partition(param_groups: list[ParamGroup], world_size: int) -> list[list[ParamGroup]]:
    """torch's sorted-greedy partition: ``result[r]`` holds rank r's param groups, one per
    group of ``param_groups`` (a shallow copy of it with rank r's share of its parameters,
    possibly none). Within a group the parameters go largest first (ties in order), each to
    the rank with the fewest elements so far (the lowest such rank)."""
    per_rank: list[list[ParamGroup]] = [[] for _ in range(world_size)]
    sizes = [0] * world_size
    for group in param_groups:
        shares: list[list[Tensor]] = [[] for _ in range(world_size)]
        for param in sorted(group["params"], key=lambda t: t.numel(), reverse=True):
            rank = sizes.index(min(sizes))
            shares[rank].append(param)
            sizes[rank] += param.numel()
        _split_group(per_rank, group, shares)
    return per_rank


def _split_group(per_rank: list[list[ParamGroup]], group: ParamGroup,
                 shares: list[list[Tensor]]) -> None:
    for rank, params in enumerate(shares):
        rank_group = copy.copy(group)
        rank_group["params"] = params
        per_rank[rank].append(rank_group)


class ZeroRedundancyOptimizer(Optimizer):
    """Wrap ``optimizer_class`` and shard its state across the ranks of ``process_group``
    (default: the whole job). ``**defaults`` go to ``optimizer_class``, which each rank builds
    for its own parameters only (``self.optim``). Every rank must build it with the same
    parameters, in the same order, and call ``step()`` together.

    ``parameters_as_bucket_view=True`` packs each rank's shard into one flat array (every
    parameter's data becomes a view of it), so a step broadcasts one array per rank instead
    of one per parameter. ``overlap_with_ddp=True`` (running the step inside DDP's gradient
    communication hooks) is not supported."""

    def __init__(self, params: Iterable[Any], optimizer_class: type[Optimizer],
                 process_group: ProcessGroup | None = None,
                 parameters_as_bucket_view: bool = False, overlap_with_ddp: bool = False,
                 **defaults: Any) -> None:
        params = self._verify_and_init_params(params)
        self._verify_same_dense_param_type()
        if overlap_with_ddp:
            raise NotImplementedError(
                "ZeroRedundancyOptimizer(overlap_with_ddp=True) is not supported by ndgrad: it "
                "runs the step inside DDP's communication hook (torch's ddp_zero_hook), which "
                "ndgrad does not have. Use overlap_with_ddp=False and call step() after "
                "backward()")
        # Optimizer.__init__ calls add_param_group, which repartitions only once initialized
        self.initialized = False
        super().__init__(params, defaults)
        if _not_member(process_group):
            raise ValueError("ZeroRedundancyOptimizer: this rank is not in process_group; "
                             "build it only on the group's ranks")
        self.process_group = _default_group(process_group)
        self.world_size: int = self.process_group.size()
        self.rank: int = self.process_group.rank()
        self.global_rank: int = self.process_group.ranks[self.rank]
        self._optim_defaults = defaults
        self._optim_constructor = optimizer_class
        self._partition_parameters_cache: list[list[ParamGroup]] = []
        self._param_to_rank_cache: dict[int, int] = {}  # id(param) -> its owner's group rank
        self._index_to_param_cache: list[Tensor] = []
        self._is_trainable_mask = self._get_is_trainable_mask()
        self._check_same_params()
        self._init_local_optimizer()
        self.parameters_as_bucket_view = parameters_as_bucket_view
        # _buckets[0][r]: rank r's trainable parameters, flat (torch's [device][rank] layout)
        self._buckets: list[list[np.ndarray]] = []
        self._bucket_views: dict[int, np.ndarray] = {}  # id(param) -> its view of a bucket
        self._build_param_buckets()
        # every rank's local state_dict, on the rank that consolidate_state_dict gathered to
        self._all_state_dicts: list[StateDict] = []
        self.initialized = True

    # -- parameters and their owners ---------------------------------------------------------
    def _verify_and_init_params(self, params: Any) -> list[Any]:
        """``params`` as a list (of tensors, or of param group dicts), with torch's checks;
        every parameter also into ``self._all_params``."""
        if isinstance(params, Tensor):
            raise TypeError(f"`params` argument should be an iterable of Tensors, but got "
                            f"{typename(params)}")
        try:
            all_params = list(params)
        except TypeError as e:
            raise TypeError(f"`params` argument should be an iterable of Tensors or dicts, but "
                            f"got {typename(params)}") from e
        if len(all_params) == 0:
            raise ValueError("ZeroRedundancyOptimizer got an empty parameter list")
        if all(isinstance(p, Tensor) for p in all_params):
            self._all_params: list[Tensor] = list(all_params)
        elif all(isinstance(p, dict) for p in all_params):
            self._all_params = []
            for group in all_params:
                if "params" not in group:
                    raise ValueError("Each parameter group passed-in via `params` must have a "
                                     "'params' key mapping to the parameters in the group")
                group_params = group["params"]
                if isinstance(group_params, Tensor):
                    group_params = [group_params]
                elif not isinstance(group_params, list | tuple | set):  # read it once
                    group_params = group["params"] = list(group_params)
                self._all_params.extend(group_params)
        else:
            raise TypeError("`params` argument should be an iterable of Tensors or dicts")
        return all_params

    def _verify_same_dense_param_type(self) -> None:
        """One tensor type for every parameter (the buckets and broadcasts assume it)."""
        first = typename(self._all_params[0])
        for param in self._all_params[1:]:
            other = typename(param)
            if other != first:
                raise ValueError(f"ZeroRedundancyOptimizer only supports using the same dense "
                                 f"type for all parameters but got both {first} and {other}")

    def _get_is_trainable_mask(self) -> list[bool]:
        return [bool(p.requires_grad) for p in self._all_params]

    def _check_same_params(self) -> None:
        """Every rank must hold parameters of the same shapes and dtype, grouped the same: the
        partition, and so who broadcasts what, follows from them. Collective."""
        mine = [[(tuple(p.shape), p._data.dtype.str) for p in g["params"]]
                for g in self.param_groups]
        every = self.process_group.comm.allgather(mine)
        if any(e != every[0] for e in every):
            ranks = [r for r, e in enumerate(every) if e != every[0]]
            raise RuntimeError(f"ZeroRedundancyOptimizer: the ranks' parameters differ (rank "
                               f"{self.process_group.ranks[ranks[0]]}'s shapes, dtypes or "
                               f"groups are not rank {self.process_group.ranks[0]}'s); every "
                               f"rank must pass the same parameters, in the same order")

    def _clear_cache(self) -> None:
        self._partition_parameters_cache.clear()
        self._param_to_rank_cache.clear()
        self._index_to_param_cache.clear()

    def _partition_parameters(self, params_per_rank: list[list[Tensor]] | None = None
                              ) -> list[list[ParamGroup]]:
        """Each rank's param groups (torch's partition, computed once), or, on the first call
        only, the one param group split as ``params_per_rank`` says."""
        if params_per_rank is None:
            if not self._partition_parameters_cache:
                self._partition_parameters_cache = _partition(self.param_groups,
                                                              self.world_size)
            return self._partition_parameters_cache
        if self._partition_parameters_cache:
            raise AssertionError("Specifying `params_per_rank` should only be done when the "
                                 "parameters have not been partitioned yet")
        if len(self.param_groups) != 1:
            raise RuntimeError("Specifying `params_per_rank` only supports a single parameter "
                               "group")
        if len(params_per_rank) != self.world_size:
            raise ValueError("`params_per_rank` must have length equal to the world size")
        known = {id(p) for p in self._all_params}
        if any(id(p) not in known for p in chain.from_iterable(params_per_rank)):
            raise ValueError("Passing a new parameter in `params_per_rank` that was not passed "
                             "into the ZeroRedundancyOptimizer constructor")
        self._partition_parameters_cache = [[] for _ in range(self.world_size)]
        _split_group(self._partition_parameters_cache, self.param_groups[0],
                     [list(ps) for ps in params_per_rank])
        return self._partition_parameters_cache

    @property
    def _param_to_rank(self) -> dict[int, int]:
        """id(param) -> the group rank that owns (updates and broadcasts) it."""
        if not self._param_to_rank_cache:
            for rank, groups in enumerate(self._partition_parameters()):
                for group in groups:
                    self._param_to_rank_cache.update((id(p), rank) for p in group["params"])
        return self._param_to_rank_cache

    @property
    def _index_to_param(self) -> list[Tensor]:
        """The parameters in state_dict index order (group by group)."""
        if not self._index_to_param_cache:
            self._index_to_param_cache = list(chain.from_iterable(
                g["params"] for g in self.param_groups))
        return self._index_to_param_cache

    def _init_local_optimizer(self) -> None:
        """Build ``self.optim``: ``optimizer_class`` over this rank's shard (param groups with
        no parameters stay, so that the groups line up with ``param_groups``)."""
        groups = self._partition_parameters()[self.rank]
        self.optim: Optimizer = self._optim_constructor(groups, **self._optim_defaults)
        self._sync_param_groups(self.optim.param_groups, self.param_groups)

    @staticmethod
    def _sync_param_groups(src_param_groups: list[ParamGroup],
                           dst_param_groups: list[ParamGroup]) -> None:
        """Copy every setting but ``params`` (lr, momentum, ...) group by group: an lr
        scheduler changes ``param_groups``, the local optimizer reads its own."""
        if len(src_param_groups) != len(dst_param_groups):
            raise AssertionError("Mismatch between number of source and destination parameter "
                                 "groups")
        for src, dst in zip(src_param_groups, dst_param_groups):
            for key in src:
                if key != "params":
                    dst[key] = src[key]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group (as ``Optimizer.add_param_group``), sharded like the others: the
        earlier groups keep their owners. Every rank must call it, with the same group."""
        super().add_param_group(param_group)
        if not self.initialized:
            return
        self._all_params.extend(param_group["params"])
        self._is_trainable_mask = self._get_is_trainable_mask()
        self._check_same_params()
        self._clear_cache()
        groups = self._partition_parameters()[self.rank]
        if len(groups) == len(self.optim.param_groups) + 1:
            self.optim.add_param_group(groups[-1])
        if self.parameters_as_bucket_view:
            self._build_param_buckets()

    # -- buckets -----------------------------------------------------------------------------
    def _build_param_buckets(self) -> None:
        """With ``parameters_as_bucket_view``: one flat array per rank holding its trainable
        parameters, whose data become views of it (frozen ones get arrays of their own)."""
        if not self.parameters_as_bucket_view:
            return
        self._buckets = [[]]
        self._bucket_views = {}
        dtype = self._all_params[0]._data.dtype
        for groups in self._partition_parameters():
            params = [p for g in groups for p in g["params"]]
            trainable = [p for p in params if p.requires_grad]
            for p in params:
                if not p.requires_grad:  # it may be a view of an old bucket: own its data
                    p._data = p._data.copy()
            size = sum(p._data.size for p in trainable)
            bucket = np.zeros(max(size, 1), dtype)  # one element when empty, as torch
            offset = 0
            for p in trainable:
                view = bucket[offset:offset + p._data.size].reshape(p._data.shape)
                np.copyto(view, p._data)
                p._data = view
                self._bucket_views[id(p)] = view
                offset += p._data.size
            self._buckets[0].append(bucket)

    def _rebind_views(self, rank: int, into_bucket: bool) -> None:
        """Rank ``rank``'s parameters whose data something replaced since the buckets were
        built (``p.data = ...``) become bucket views again, their values copied into the bucket
        first when ``into_bucket`` (this rank updated them), else taken from it."""
        for group in self._partition_parameters()[rank]:
            for p in group["params"]:
                view = self._bucket_views.get(id(p))
                if view is not None and p._data is not view:
                    if into_bucket:
                        np.copyto(view, p._data.reshape(view.shape))
                    p._data = view

    # -- the step ----------------------------------------------------------------------------
    def _local_step(self, closure: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """Step this rank's shard only (no communication but what ``closure`` does)."""
        mask = self._get_is_trainable_mask()
        if mask != self._is_trainable_mask:
            logger.warning("ZeroRedundancyOptimizer detected that the trainable parameters "
                           "changed; rebuilding the parameter buckets if enabled")
            self._build_param_buckets()
            self._is_trainable_mask = mask
        self._sync_param_groups(self.param_groups, self.optim.param_groups)
        if closure is None:
            loss = self.optim.step(**kwargs)
        else:
            loss = self.optim.step(closure=closure, **kwargs)
        self._sync_param_groups(self.optim.param_groups, self.param_groups)
        return loss

    def step(self, closure: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """Step this rank's shard, then give every rank every updated parameter (broadcast
        from its owner). ``closure`` (run on every rank) and ``kwargs`` go to the wrapped
        optimizer's ``step``; returns its result (the loss, with a closure)."""
        loss = self._local_step(closure=closure, **kwargs)
        self._sync_params()
        return loss

    def _sync_params(self) -> None:
        """Broadcast each rank's shard from it: one bucket per rank, or one array per
        parameter (trainable or not, as torch), all started before any is waited for."""
        comm = self.process_group.comm
        requests: list[Any] = []
        copies: list[tuple[Tensor, np.ndarray]] = []  # a strided parameter, through a copy
        if self.parameters_as_bucket_view:
            self._rebind_views(self.rank, into_bucket=True)
            requests = [comm.Ibcast(bucket, root=r) for r, bucket in enumerate(self._buckets[0])]
        else:
            for rank, groups in enumerate(self._partition_parameters()):
                for p in chain.from_iterable(g["params"] for g in groups):
                    buf = p._data if p._data.flags.c_contiguous else np.ascontiguousarray(
                        p._data)
                    requests.append(comm.Ibcast(buf, root=rank))
                    if buf is not p._data and rank != self.rank:
                        copies.append((p, buf))
        _mpi().Request.Waitall(requests)
        for p, buf in copies:
            np.copyto(p._data, buf)
        if self.parameters_as_bucket_view:
            for rank in range(self.world_size):
                if rank != self.rank:
                    self._rebind_views(rank, into_bucket=False)

    # -- state_dict --------------------------------------------------------------------------
    def consolidate_state_dict(self, to: int = 0) -> None:
        """Gather every rank's optimizer state on group rank ``to`` (for ``state_dict()``
        there). Every rank must call it."""
        if not isinstance(to, int | np.integer) or not 0 <= to < self.world_size:
            raise ValueError(f"consolidate_state_dict: to={to!r} is not a rank of the group "
                             f"(0..{self.world_size - 1})")
        comm = self.process_group.comm
        every = comm.allgather(int(to))  # MPI would mix up gathers to different ranks
        if any(t != every[0] for t in every):
            raise RuntimeError(f"consolidate_state_dict: the ranks disagree on `to` ({every}, "
                               f"by group rank); every rank must pass the same rank")
        self._sync_param_groups(self.param_groups, self.optim.param_groups)
        # pickled by MPI: the target's copies don't change with later steps
        gathered = comm.gather(self.optim.state_dict(), root=int(to))
        self._all_state_dicts = gathered if self.rank == to else []

    def state_dict(self) -> StateDict:
        """The whole optimizer's state, as the plain optimizer's over every parameter, from
        the last ``consolidate_state_dict`` to this rank (which must have happened)."""
        if len(self._all_state_dicts) == 0:
            raise RuntimeError(f"Optimizer state has not been consolidated on this rank. "
                               f"Please call `consolidate_state_dict(to={self.rank})` on all "
                               f"ranks beforehand if you meant to save the global state.")
        state_dict = super().state_dict()
        index = {id(p): i for i, p in enumerate(self._index_to_param)}
        for rank, local in enumerate(self._all_state_dicts):
            local_groups = local["param_groups"]
            global_groups = self._partition_parameters()[rank]
            if len(local_groups) != len(global_groups):
                raise AssertionError("Mismatch between number of local and global parameter "
                                     "groups")
            for local_group, global_group in zip(local_groups, global_groups):
                if len(local_group["params"]) != len(global_group["params"]):
                    raise AssertionError("Mismatch between number of local and global "
                                         "parameters in parameter group")
                for local_index, param in zip(local_group["params"], global_group["params"]):
                    if local_index in local["state"]:
                        state_dict["state"][index[id(param)]] = local["state"][local_index]
        state_dict["state"] = dict(sorted(state_dict["state"].items()))
        return state_dict

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Load a ``state_dict()`` (of this optimizer or of the plain one over the same
        parameters): the settings of every group, and the state of this rank's shard."""
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        owner = self._param_to_rank
        local_index = {id(p): i for i, p in enumerate(
            chain.from_iterable(g["params"] for g in self.optim.param_groups))}
        local_state: dict[int, Any] = {}
        for key, value in state_dict["state"].items():
            i = int(key) if isinstance(key, str) and key.isdigit() else key
            param = self._index_to_param[i]
            if owner[id(param)] == self.rank:
                local_state[local_index[id(param)]] = value
        start = 0
        local_groups = []
        for group, local_group in zip(self.param_groups, self.optim.param_groups):
            n = len(local_group["params"])
            settings = {k: v for k, v in group.items() if k != "params"}
            local_groups.append({**settings, "params": list(range(start, start + n))})
            start += n
        self.optim.load_state_dict({"state": local_state, "param_groups": local_groups})
