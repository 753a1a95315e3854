"""ndgrad.utils.data against torch.utils.data: collate, batching, shuffling, splits."""

import collections
import itertools
import re
import tracemalloc
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)
from ndgrad.utils.data import sampler as sampler_module

Point = collections.namedtuple("Point", "x y")


def to_plain(obj):
    """Tensors of either library -> (dtype name, nested list), recursively, for comparing."""
    if isinstance(obj, ndgrad.Tensor | torch.Tensor):
        return str(obj.dtype).split(".")[-1], obj.tolist()
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj).__name__, [to_plain(v) for v in obj]
    if isinstance(obj, list | tuple):
        return type(obj).__name__, [to_plain(v) for v in obj]
    return obj


class ListDataset(Dataset):
    """A dataset with no fast path: items come one at a time."""

    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


def make_tensor_datasets(n=23):
    x = np.random.default_rng(1).standard_normal((n, 3)).astype(np.float32)
    y = np.arange(n)
    return (TensorDataset(ndgrad.tensor(x), ndgrad.tensor(y)),
            torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)))


# -- collate ---------------------------------------------------------------------------------
COLLATE_CASES = {
    "ints": lambda lib: [1, 2, 3],
    "floats": lambda lib: [1.5, 2.0],
    "bools": lambda lib: [True, False],
    "strings": lambda lib: ["a", "b"],
    "tensors": lambda lib: [lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])],
    "int_tensors": lambda lib: [lib.tensor(3), lib.tensor(4)],
    "arrays": lambda lib: [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)],
    "int_arrays": lambda lib: [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
    "np_scalars": lambda lib: [np.float64(1.5), np.float64(2.5)],
    "np_int_scalars": lambda lib: [np.int16(1), np.int16(2)],
    "tuples": lambda lib: [(lib.tensor([1.0]), 0), (lib.tensor([2.0]), 1)],
    "lists": lambda lib: [[1, 2.0], [3, 4.0]],
    "dicts": lambda lib: [{"a": 1, "b": lib.tensor([1.0])}, {"a": 2, "b": lib.tensor([2.0])}],
    "namedtuples": lambda lib: [Point(1, 2.0), Point(3, 4.0)],
    "nested": lambda lib: [{"p": (np.float32(1), [1, "x"])}, {"p": (np.float32(2), [2, "y"])}],
    "int_then_float": lambda lib: [1, 2.5],  # torch.tensor's inference: float32
    "bool_then_int": lambda lib: [True, 2],
    "np_bools": lambda lib: [np.bool_(True), np.bool_(False)],
    "np_float32_scalars": lambda lib: [np.float32(1.5), np.float32(2.5)],
    "zero_d_arrays": lambda lib: [np.array(1.5), np.array(2.5)],
    "bytes": lambda lib: [b"a", b"b"],
    "tuple_of_strings": lambda lib: [("a", 1), ("b", 2)],
    "mixed_dtype_tensors": lambda lib: [lib.tensor([1.0], dtype=lib.float32),
                                        lib.tensor([2.0], dtype=lib.float64)],
    "namedtuple_in_dict": lambda lib: [{"p": Point(np.zeros(2), "a")},
                                       {"p": Point(np.ones(2), "b")}],
    "list_of_dicts_of_lists": lambda lib: [[{"a": [1, 2]}], [{"a": [3, 4]}]],
}


@pytest.mark.parametrize("case", sorted(COLLATE_CASES))
def test_default_collate_matches_torch(case):
    ours = default_collate(COLLATE_CASES[case](ndgrad))
    theirs = torch.utils.data.default_collate(COLLATE_CASES[case](torch))
    assert to_plain(ours) == to_plain(theirs)


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([ndgrad.zeros(2), ndgrad.zeros(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])


def test_collate_keeps_container_kinds_like_torch():
    def kinds(obj):
        if isinstance(obj, dict):
            return type(obj).__name__, {k: kinds(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return type(obj).__name__, [kinds(v) for v in obj]
        return "tensor" if isinstance(obj, ndgrad.Tensor | torch.Tensor) else type(obj).__name__

    def batch(lib):
        d = collections.defaultdict(list, {"x": lib.tensor([1.0])})
        return [collections.OrderedDict(a=1, b=d), collections.OrderedDict(a=2, b=d)]

    ours, theirs = default_collate(batch(ndgrad)), torch.utils.data.default_collate(batch(torch))
    assert kinds(ours) == kinds(theirs)
    assert isinstance(ours, collections.OrderedDict) and ours["b"].default_factory is list


def test_default_collate_string_arrays_error_like_torch():
    for batch in ([np.array(["a"]), np.array(["b"])], [np.array([object()])] * 2):
        with pytest.raises(TypeError) as theirs:
            torch.utils.data.default_collate(batch)
        with pytest.raises(TypeError, match=re.escape(str(theirs.value))):
            default_collate(batch)


CONVERT_CASES = {
    "int": lambda: 3,
    "array": lambda: np.arange(3, dtype=np.int32),
    "float_array": lambda: np.ones((2, 2), np.float32),
    "np_scalar": lambda: np.float64(2.5),
    "np_bool": lambda: np.bool_(True),
    "string_array": lambda: np.array(["a", "b"]),
    "tuple": lambda: (np.zeros(2), 1, "s"),
    "namedtuple": lambda: Point(np.zeros(2), 1),
    "dict": lambda: {"a": np.ones(1), "b": [np.zeros(1), "x"]},
    "string": lambda: "text",
}


@pytest.mark.parametrize("case", sorted(CONVERT_CASES))
def test_default_convert_matches_torch(case):
    ours = default_convert(CONVERT_CASES[case]())
    theirs = torch.utils.data.default_convert(CONVERT_CASES[case]())
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.tolist() == theirs.tolist()
    else:
        assert to_plain(ours) == to_plain(theirs)


def test_default_collate_keeps_graph():
    a = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    out = default_collate([a, a * 2])
    out.sum().backward()
    assert a.grad.tolist() == [3.0, 3.0]


# -- DataLoader ------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (5, False), (5, True), (23, True),
                                                  (30, False), (30, True)])
def test_sequential_batches_match_torch(batch_size, drop_last):
    ours_ds, torch_ds = make_tensor_datasets()
    ours = list(DataLoader(ours_ds, batch_size=batch_size, drop_last=drop_last))
    theirs = list(torch.utils.data.DataLoader(torch_ds, batch_size=batch_size,
                                              drop_last=drop_last))
    assert len(ours) == len(theirs) == len(DataLoader(ours_ds, batch_size, drop_last=drop_last))
    assert to_plain(ours) == to_plain(theirs)


def test_fast_path_equals_item_path():
    ds, _ = make_tensor_datasets()
    slow = ListDataset([ds[i] for i in range(len(ds))])
    g1, g2 = ndgrad.Generator().manual_seed(5), ndgrad.Generator().manual_seed(5)
    fast_batches = list(DataLoader(ds, batch_size=4, shuffle=True, generator=g1))
    slow_batches = list(DataLoader(slow, batch_size=4, shuffle=True, generator=g2))
    assert to_plain(fast_batches) == to_plain(slow_batches)
    assert isinstance(fast_batches[0], list) and fast_batches[0][0].dtype == ndgrad.float32


def test_fast_path_is_used(monkeypatch):
    ds, _ = make_tensor_datasets()
    monkeypatch.setattr(TensorDataset, "__getitem__", lambda self, i: 1 / 0)
    x, y = next(iter(DataLoader(ds, batch_size=4, shuffle=True)))
    assert x.shape == (4, 3) and y.shape == (4,)
    # a Subset of a TensorDataset is fast too, and maps indices through the subset
    sub = Subset(ds, [7, 3, 11])
    x, y = next(iter(DataLoader(sub, batch_size=3)))
    assert y.tolist() == [7, 3, 11]


def test_subclasses_that_override_items_are_asked_item_by_item():
    # the whole-array fast path must not bypass a subclass's own __getitem__ (augmentation)
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    ds, _ = make_tensor_datasets(6)
    doubled = Doubled(*ds.tensors)
    x, y = next(iter(DataLoader(doubled, batch_size=6)))
    np.testing.assert_array_equal(x.numpy(), ds.tensors[0].numpy() * 2)

    class Batched(TensorDataset):
        def __getitems__(self, indices):
            return [(ndgrad.tensor(0.0), i) for i in indices]

    x, y = next(iter(DataLoader(Batched(*ds.tensors), batch_size=3)))
    assert x.tolist() == [0.0] * 3 and y.tolist() == [0, 1, 2]

    class Every2nd(Subset):
        def __getitem__(self, i):
            return self.dataset[self.indices[i] * 2]

        def __getitems__(self, indices):
            return [self[i] for i in indices]

    _, y = next(iter(DataLoader(Every2nd(ds, [0, 1, 2]), batch_size=3)))
    assert y.tolist() == [0, 2, 4]


def test_shuffle_reproducible_and_a_permutation():
    ds, _ = make_tensor_datasets(50)

    def order(**kw):
        return [i for _, y in DataLoader(ds, batch_size=8, shuffle=True, **kw) for i in y.tolist()]

    a = order(generator=ndgrad.Generator().manual_seed(0))
    b = order(generator=ndgrad.Generator().manual_seed(0))
    c = order(generator=np.random.default_rng(0))  # a NumPy generator works as well
    d = order(generator=ndgrad.Generator().manual_seed(1))
    assert a == b == c and a != d and sorted(a) == list(range(50))
    ndgrad.manual_seed(3)
    e = order()
    ndgrad.manual_seed(3)
    assert order() == e and sorted(e) == list(range(50))
    # one loader gives a new order each epoch
    loader = DataLoader(ds, batch_size=50, shuffle=True, generator=ndgrad.Generator())
    assert next(iter(loader))[1].tolist() != next(iter(loader))[1].tolist()


def test_bad_generator():
    ds, _ = make_tensor_datasets()
    with pytest.raises(TypeError, match="generator must be"):
        DataLoader(ds, shuffle=True, generator=42)


def test_item_datasets_collate_like_torch():
    items = [(np.full((2,), i, np.float32), i, {"name": f"n{i}"}) for i in range(7)]
    ours = list(DataLoader(ListDataset(items), batch_size=3))
    theirs = list(torch.utils.data.DataLoader(ListDataset(items), batch_size=3))
    assert to_plain(ours) == to_plain(theirs)


def test_batch_size_none_and_custom_options():
    ds, tds = make_tensor_datasets(6)
    ours = list(DataLoader(ds, batch_size=None))
    theirs = list(torch.utils.data.DataLoader(tds, batch_size=None))
    assert to_plain(ours) == to_plain(theirs) and len(ours) == 6
    # custom sampler, batch_sampler and collate_fn
    ours = list(DataLoader(ds, batch_size=2, sampler=[5, 0, 3, 1]))
    assert [y.tolist() for _, y in ours] == [[5, 0], [3, 1]]
    loader = DataLoader(ds, batch_sampler=[[1, 2, 3], [0]], collate_fn=lambda b: len(b))
    assert list(loader) == [3, 1] and len(loader) == 2


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(DataLoader(Stream(), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(), shuffle=True)


@pytest.mark.parametrize("kwargs", [
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_sampler=[[0]], sampler=[0]),
    dict(batch_size=None, drop_last=True),
    dict(num_workers=-1),
    dict(batch_size=0),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(persistent_workers=True),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="no-such-method"),
    dict(num_workers=1, prefetch_factor=-1),
])
def test_argument_errors_match_torch(kwargs):
    ds, tds = make_tensor_datasets()
    with pytest.raises((ValueError, TypeError)) as theirs:
        torch.utils.data.DataLoader(tds, **kwargs)
    with pytest.raises(theirs.type) as ours:
        DataLoader(ds, **kwargs)
    if "prefetch_factor" in kwargs and kwargs.get("num_workers"):
        assert "prefetch_factor option should be" in str(ours.value)
    else:
        assert str(ours.value) == str(theirs.value)


def test_attributes_are_fixed_after_init_like_torch():
    ds, tds = make_tensor_datasets()
    for name, value in (("batch_size", 3), ("sampler", None), ("dataset", ds)):
        with pytest.raises(ValueError) as theirs:
            setattr(torch.utils.data.DataLoader(tds), name, value)
        with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
            setattr(DataLoader(ds), name, value)
    loader = DataLoader(ds)
    loader.num_workers = 0  # the others may change, as in torch
    with pytest.raises(TypeError, match="multiprocessing_context option should be a valid"):
        DataLoader(ds, num_workers=1, multiprocessing_context=42)


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_batches_cover_the_dataset_like_torch(drop_last):
    ours_ds, torch_ds = make_tensor_datasets(23)
    ours = [y.tolist() for _, y in DataLoader(ours_ds, batch_size=5, shuffle=True,
                                               drop_last=drop_last, generator=seeded())]
    theirs = [y.tolist() for _, y in torch.utils.data.DataLoader(
        torch_ds, batch_size=5, shuffle=True, drop_last=drop_last)]
    assert [len(b) for b in ours] == [len(b) for b in theirs]
    seen = sorted(i for b in ours for i in b)
    assert len(seen) == len(set(seen)) == (20 if drop_last else 23)


def test_pin_memory_is_accepted_and_warns_like_torch():
    ds, tds = make_tensor_datasets()
    with pytest.warns(UserWarning) as theirs:
        list(torch.utils.data.DataLoader(tds, batch_size=4, pin_memory=True))
    with pytest.warns(UserWarning) as ours:
        pinned = list(DataLoader(ds, batch_size=4, pin_memory=True))
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert to_plain(pinned) == to_plain(list(DataLoader(ds, batch_size=4)))


# -- samplers --------------------------------------------------------------------------------
class Sized:
    """A data source of any length that holds nothing."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def test_samplers_start_at_once_in_constant_memory():
    # the endless-loader pattern: 1e10 draws must not be built up front (that was 74 GiB)
    tracemalloc.start()
    try:
        endless = RandomSampler(Sized(10), replacement=True, num_samples=int(1e10))
        it = iter(endless)
        assert all(0 <= next(it) < 10 for _ in range(1000)) and len(endless) == int(1e10)
        perms = RandomSampler(Sized(10), num_samples=int(1e10))  # permutations, one at a time
        assert sorted(itertools.islice(perms, 10)) == list(range(10))
        weighted = WeightedRandomSampler([1.0, 2.0, 0.0], int(1e10))
        assert set(itertools.islice(weighted, 1000)) == {0, 1}
        assert next(iter(SequentialSampler(Sized(10**12)))) == 0
        for sampler in (endless, perms, weighted):
            loader = DataLoader(Sized(10), batch_size=4, sampler=sampler)
            assert next(iter(loader)).shape == (4,) and len(loader) == int(2.5e9)
        assert next(iter(DataLoader(Sized(10**12), batch_size=4))).tolist() == [0, 1, 2, 3]
        assert tracemalloc.get_traced_memory()[1] < 16 * 2**20
    finally:
        tracemalloc.stop()


def seeded(seed=0):
    return ndgrad.Generator().manual_seed(seed)


def test_random_sampler_semantics():
    ds = Sized(10)
    one = list(RandomSampler(ds, generator=seeded()))
    assert sorted(one) == list(range(10)) and one != list(range(10))
    assert list(RandomSampler(ds, generator=seeded())) == one  # generator= is respected
    assert list(RandomSampler(ds, generator=seeded(1))) != one
    sampler = RandomSampler(ds, generator=seeded())
    assert list(sampler) != list(sampler)  # a new permutation each pass
    # num_samples beyond the length: whole permutations, then the head of one more
    more = list(RandomSampler(ds, num_samples=25, generator=seeded()))
    assert len(more) == 25 and sorted(more[:10]) == sorted(more[10:20]) == list(range(10))
    assert len(set(more[20:])) == 5
    # the global generator when none is given: ndgrad.manual_seed makes it reproducible
    ndgrad.manual_seed(4)
    a = list(RandomSampler(ds))
    ndgrad.manual_seed(4)
    assert list(RandomSampler(ds)) == a
    # the dataset's length is read at each pass, as in torch
    growing = Sized(3)
    sampler = RandomSampler(growing)
    growing.n = 6
    assert sorted(sampler) == list(range(6)) and len(sampler) == 6
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(ds, replacement=1)


def test_random_sampler_with_replacement_is_uniform():
    draws = np.array(list(RandomSampler(Sized(5), True, 50_000, generator=seeded())))
    assert len(draws) == 50_000 and set(draws.tolist()) == set(range(5))
    np.testing.assert_allclose(np.bincount(draws) / 50_000, 0.2, atol=0.01)
    tdraws = np.array(list(torch.utils.data.RandomSampler(range(5), True, 50_000)))
    np.testing.assert_allclose(np.bincount(tdraws) / 50_000, 0.2, atol=0.01)


@pytest.mark.parametrize("chunk", [3, 7, 64])
@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (4, False), (4, True), (10, True),
                                                  (25, False)])
def test_batches_cut_from_chunks_equal_the_lists(monkeypatch, chunk, batch_size, drop_last):
    # DataLoader's fast path cuts batches out of chunks of indices; batches spanning chunk
    # boundaries must come out exactly as BatchSampler's lists do
    monkeypatch.setattr(sampler_module, "_CHUNK", chunk)
    for make in (lambda: SequentialSampler(Sized(23)),
                 lambda: RandomSampler(Sized(23), True, 41, generator=seeded()),
                 lambda: RandomSampler(Sized(6), num_samples=23, generator=seeded()),
                 lambda: WeightedRandomSampler([1, 2, 3], 30, generator=seeded())):
        lists = list(BatchSampler(make(), batch_size, drop_last))
        arrays = [b.tolist() for b in BatchSampler(make(), batch_size, drop_last)._index_batches()]
        assert arrays == lists and len(lists) == len(BatchSampler(make(), batch_size, drop_last))


def test_weighted_sampler_distributions():
    w = [0.0, 1.0, 2.0, 5.0]
    p = np.array(w) / sum(w)
    ours = np.array(list(WeightedRandomSampler(w, 40_000, generator=seeded())))
    theirs = np.array(list(torch.utils.data.WeightedRandomSampler(w, 40_000)))
    for draws in (ours, theirs):
        np.testing.assert_allclose(np.bincount(draws, minlength=4) / 40_000, p, atol=0.01)
    # without replacement: distinct indices, each draw proportional to the weights left; the
    # first two places' frequencies match the exact probabilities (and torch's)
    w = [1.0, 2.0, 3.0, 4.0]
    first, second = np.zeros(4), np.zeros(4)
    tfirst = np.zeros(4)
    g = seeded()
    for _ in range(4000):
        order = list(WeightedRandomSampler(w, 3, replacement=False, generator=g))
        assert len(set(order)) == 3
        first[order[0]] += 1
        second[order[1]] += 1
        tfirst[list(torch.utils.data.WeightedRandomSampler(w, 1, replacement=False))[0]] += 1
    p1 = np.array(w) / 10
    p2 = np.array([sum(p1[i] * w[j] / (10 - w[i]) for i in range(4) if i != j)
                   for j in range(4)])
    np.testing.assert_allclose(first / 4000, p1, atol=0.025)
    np.testing.assert_allclose(tfirst / 4000, p1, atol=0.025)
    np.testing.assert_allclose(second / 4000, p2, atol=0.025)
    assert sorted(WeightedRandomSampler([0, 1, 1, 0], 2, replacement=False)) == [1, 2]
    assert len(WeightedRandomSampler(ndgrad.tensor([1.0, 2.0]), 7)) == 7


@pytest.mark.parametrize("args,error,message", [
    (([1.0, 2.0], 0), ValueError, "num_samples should be a positive integer value"),
    (([1.0, 2.0], True), ValueError, "num_samples should be a positive integer value"),
    (([1.0, 2.0], 2, 1), ValueError, "replacement should be a boolean value"),
    (([[1.0, 2.0]], 2), ValueError, r"weights should be a 1d sequence but given weights have "
                                    r"shape \(1, 2\)"),
    (([1.0, -2.0], 2), ValueError, "finite and non-negative"),
    (([1.0, float("nan")], 2), ValueError, "finite and non-negative"),
    (([0.0, 0.0], 2), ValueError, "must not all be zero"),
    (([1.0, 0.0, 1.0], 3, False), ValueError, "cannot draw 3 samples without replacement from 2"),
])
def test_weighted_sampler_errors(args, error, message):
    with pytest.raises(error, match=message):
        WeightedRandomSampler(*args)


def test_subset_random_sampler():
    sampler = SubsetRandomSampler([4, 2, 9, 7], generator=seeded())
    a, b = list(sampler), list(sampler)
    assert sorted(a) == sorted(b) == [2, 4, 7, 9] and a != b and len(sampler) == 4
    assert list(SubsetRandomSampler([4, 2, 9, 7], generator=seeded())) == a
    assert all(type(i) is int for i in a)
    # any keys, as torch's yields indices[i]: a dict-backed dataset's string keys work
    assert sorted(SubsetRandomSampler(["b", "a"])) == ["a", "b"]
    counts = collections.Counter(tuple(SubsetRandomSampler([0, 1, 2], generator=g))
                                 for g in [seeded()] for _ in range(6000))
    assert len(counts) == 6 and max(counts.values()) - min(counts.values()) < 250


def test_sequential_and_batch_samplers_match_torch():
    assert list(SequentialSampler(range(7))) == list(torch.utils.data.SequentialSampler(range(7)))
    assert len(SequentialSampler(range(7))) == 7
    for n, size, drop in itertools.product([0, 1, 7, 8], [1, 3, 8], [False, True]):
        ours = BatchSampler(SequentialSampler(range(n)), size, drop)
        theirs = torch.utils.data.BatchSampler(range(n), size, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    for args in [(range(3), 0, False), (range(3), True, False), (range(3), 2, 1)]:
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.BatchSampler(*args)
        with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
            BatchSampler(*args)


def test_a_sampler_subclass_keeps_its_own_order():
    class Reversed(SequentialSampler):
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))

    ds, _ = make_tensor_datasets(5)
    loader = DataLoader(ds, batch_size=2, sampler=Reversed(ds))
    assert [y.tolist() for _, y in loader] == [[4, 3], [2, 1], [0]]


def test_tensor_dataset():
    x, y = ndgrad.randn(4, 2), ndgrad.arange(4)
    ds = TensorDataset(x, y)
    assert len(ds) == 4 and ds[2][1].item() == 2 and ds[2][0].tolist() == x[2].tolist()
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(x, ndgrad.arange(5))
    with pytest.raises(TypeError, match="TensorDataset expects Tensors"):
        TensorDataset(x, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="TensorDataset needs at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(ndgrad.tensor(1.0))
    assert [v.tolist() for v in ds[[0, 3]]] == [[x[0].tolist(), x[3].tolist()], [0, 3]]


def test_iterable_dataset_longer_than_its_len_warns():
    class Liar(Count):
        def __len__(self):
            return 2

    loader = DataLoader(Liar(3), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2 .* but 3 samples have been"):
        assert list(loader) == [0, 1, 2]


def test_concat_dataset():
    a, b = ListDataset([0, 1, 2]), ListDataset([3, 4])
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 5
    assert [c[i] for i in range(5)] == [0, 1, 2, 3, 4] and c[-1] == 4
    assert [x.tolist() for x in DataLoader(c, batch_size=2)] == [[0, 1], [2, 3], [4]]
    parts = [ListDataset([0]), ListDataset([]), ListDataset([1, 2])]
    ours, theirs = ConcatDataset(parts), torch.utils.data.ConcatDataset(parts)
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-3, 3)] == [theirs[i] for i in range(-3, 3)]
    with pytest.raises(ValueError, match="absolute value of index should not exceed"):
        ours[-4]
    with pytest.raises(ValueError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="ConcatDataset does not support IterableDataset"):
        ConcatDataset([Count(2)])


class Count(IterableDataset):
    def __init__(self, n, start=0):
        self.n, self.start = n, start

    def __iter__(self):
        return iter(range(self.start, self.start + self.n))

    def __len__(self):
        return self.n


def test_chain_dataset():
    chain = Count(2) + Count(3, start=10)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 10, 11, 12]
    assert len(chain) == 5 and list(chain) == [0, 1, 10, 11, 12]  # iterable again
    assert [b.tolist() for b in DataLoader(chain, batch_size=2)] == [[0, 1], [10, 11], [12]]
    with pytest.raises(TypeError, match="ChainDataset only supports IterableDataset"):
        list(ChainDataset([Count(1), ListDataset([1])]))


def test_stack_dataset_like_torch():
    x, y = ListDataset([np.float32(i) for i in range(5)]), ListDataset(list(range(5)))
    for args, kwargs in (((x, y), {}), ((), {"image": x, "label": y})):
        ours = StackDataset(*args, **kwargs)
        theirs = torch.utils.data.StackDataset(*args, **kwargs)
        assert len(ours) == len(theirs) == 5 and to_plain(ours[2]) == to_plain(theirs[2])
        assert to_plain(ours.__getitems__([1, 3])) == to_plain(theirs.__getitems__([1, 3]))
        batches = list(DataLoader(ours, batch_size=2))
        assert to_plain(batches) == to_plain(list(torch.utils.data.DataLoader(theirs, 2)))
    for args, kwargs in (((x,), {"y": y}), ((), {}), ((x, ListDataset([1])), {})):
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
            StackDataset(*args, **kwargs)


def test_subset():
    base = ListDataset(list("abcdef"))
    sub = Subset(base, [5, 0, 2])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == ["f", "a", "c"]
    assert sub.__getitems__([2, 0]) == ["c", "f"]
    assert [list(b) for b in DataLoader(sub, batch_size=2)] == [["f", "a"], ["c"]]

    class Plain(Subset):
        def __getitem__(self, i):
            return "x"

    with pytest.raises(NotImplementedError) as theirs:
        type("Plain", (torch.utils.data.Subset,), {"__getitem__": Plain.__getitem__})(base, [0])
    with pytest.raises(NotImplementedError) as ours:
        Plain(base, [0])
    assert str(ours.value) == str(theirs.value)


# -- random_split ----------------------------------------------------------------------------
@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]),
                                       (7, [0.2, 0.2, 0.6]), (100, [0.8, 0.1, 0.1])])
def test_random_split_lengths_match_torch(n, lengths):
    ours = random_split(ListDataset(list(range(n))), lengths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.utils.data.random_split(ListDataset(list(range(n))), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    items = sorted(s[i] for s in ours for i in range(len(s)))
    assert items == list(range(n))  # disjoint and covering


def test_random_split_generator_and_errors():
    ds = ListDataset(list(range(20)))

    def split(seed):
        parts = random_split(ds, [5, 15], generator=ndgrad.Generator().manual_seed(seed))
        return [list(p.indices) for p in parts]

    assert split(0) == split(0) != split(1)
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [5, 5])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(ds, [-0.5, 1.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(ListDataset([1, 2]), [0.9, 0.1])


# -- Generator -------------------------------------------------------------------------------
def test_generator():
    g = ndgrad.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    a = ndgrad.randn(3, generator=g)
    state = g.get_state()
    b = ndgrad.randn(3, generator=g)
    g.set_state(state)
    assert ndgrad.randn(3, generator=g).tolist() == b.tolist()
    assert ndgrad.randn(3, generator=ndgrad.Generator().manual_seed(7)).tolist() == a.tolist()
    assert isinstance(g.seed(), int)
