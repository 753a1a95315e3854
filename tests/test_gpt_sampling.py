"""ndgrad.multinomial (and Tensor.multinomial), which GPT sampling draws its tokens with:
distributions at fixed seeds, shapes, reproducibility, and torch's errors."""

import numpy as np
import pytest
import torch

import ndgrad


def frequencies(samples, k):
    return np.bincount(np.asarray(samples).ravel(), minlength=k) / np.asarray(samples).size


def test_with_replacement_follows_the_weights():
    w = np.array([0.5, 0.0, 1.5, 3.0, 0.0, 5.0])  # unnormalised, zeros inside and at the end
    p = w / w.sum()
    n = 200_000
    for dtype in (ndgrad.float32, ndgrad.float64):
        s = ndgrad.multinomial(ndgrad.tensor(w, dtype=dtype), n, replacement=True)
        assert s.dtype == ndgrad.int64 and s.shape == (n,)
        f = frequencies(s.numpy(), len(w))
        assert f[1] == 0 and f[4] == 0  # zero weight is never drawn
        sigma = np.sqrt(p * (1 - p) / n)
        np.testing.assert_array_less(np.abs(f - p), 5 * sigma + 1e-12)


def test_batched_rows_sample_their_own_distribution():
    w = ndgrad.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [1.0, 1.0, 2.0]])
    s = w.multinomial(50_000, replacement=True).numpy()
    assert s.shape == (3, 50_000)
    assert (s[0] == 0).all() and (s[1] == 2).all()
    np.testing.assert_allclose(frequencies(s[2], 3), [0.25, 0.25, 0.5], atol=0.01)


def test_without_replacement_draws_one_after_another():
    """P(first i, then j) = p_i * p_j / (1 - p_i): sequential draws without replacement,
    checked over 40,000 rows drawn in one batched call."""
    p = np.array([0.5, 0.3, 0.2, 0.0])
    rows = 40_000
    s = ndgrad.multinomial(ndgrad.tensor(np.tile(p, (rows, 1))), 2).numpy()
    assert s.shape == (rows, 2) and (s[:, 0] != s[:, 1]).all()
    counts = np.zeros((4, 4))
    np.add.at(counts, (s[:, 0], s[:, 1]), 1)
    expected = np.array([[p[i] * p[j] / (1 - p[i]) if i != j else 0 for j in range(4)]
                         for i in range(4)])
    sigma = np.sqrt(expected * (1 - expected) / rows)
    np.testing.assert_array_less(np.abs(counts / rows - expected), 5 * sigma + 1e-12)


def test_without_replacement_takes_every_category_and_zeros_last():
    s = ndgrad.multinomial(ndgrad.tensor([[0.0, 1.0, 0.0, 2.0]] * 100), 4).numpy()
    assert (np.sort(s, axis=1) == np.arange(4)).all()  # a permutation of the categories
    assert set(s[:, :2].ravel()) == {1, 3}  # the two with weight come first


def test_one_sample_without_replacement_follows_the_weights():
    p = np.array([0.1, 0.2, 0.7])
    s = ndgrad.multinomial(ndgrad.tensor(np.tile(p, (50_000, 1)), dtype=ndgrad.float32), 1)
    assert s.shape == (50_000, 1)
    np.testing.assert_allclose(frequencies(s.numpy(), 3), p, atol=0.01)


def test_generator_and_global_seed_reproduce():
    w = ndgrad.rand(4, 10)
    g1, g2 = ndgrad.Generator().manual_seed(7), ndgrad.Generator().manual_seed(7)
    for replacement in (False, True):
        a = ndgrad.multinomial(w, 5, replacement, generator=g1)
        b = ndgrad.multinomial(w, 5, replacement, generator=g2)
        assert a.tolist() == b.tolist()
        ndgrad.manual_seed(3)
        c = w.multinomial(5, replacement)
        ndgrad.manual_seed(3)
        assert w.multinomial(5, replacement).tolist() == c.tolist()
    # the generator's stream, not the global one, is used
    ndgrad.manual_seed(0)
    before = ndgrad.get_rng_state()
    ndgrad.multinomial(w, 3, generator=ndgrad.Generator().manual_seed(1))
    assert ndgrad.get_rng_state() == before


def test_empty_batch():
    assert ndgrad.multinomial(ndgrad.ones(0, 3), 2).shape == (0, 2)
    assert ndgrad.multinomial(ndgrad.ones(0, 0), 2, True).shape == (0, 2)


@pytest.mark.parametrize("make,args", [
    (lambda lib: lib.tensor([0.0, 1.0, 0.0, 2.0]), (5,)),  # more than categories
    (lambda lib: lib.tensor([0.0, 1.0]), (0,)),
    (lambda lib: lib.tensor([0.0, 1.0]), (-1, True)),
    (lambda lib: lib.tensor([0.0, -1.0, 2.0]), (1,)),
    (lambda lib: lib.tensor([0.0, float("nan")]), (1, True)),
    (lambda lib: lib.tensor([1.0, float("inf")]), (1,)),
    (lambda lib: lib.tensor([0.0, 0.0]), (1,)),
    (lambda lib: lib.tensor([[0.0, 0.0], [1.0, 1.0]]), (1, True)),
    (lambda lib: lib.tensor(1.0), (1,)),
    (lambda lib: lib.ones(2, 2, 2), (1,)),
    (lambda lib: lib.ones(3, 0), (2, True)),
    (lambda lib: lib.tensor([1, 2]), (1,)),
    (lambda lib: lib.tensor([True, False]), (1,)),
    (lambda lib: lib.tensor([1.0, 2.0]), (1.5,)),
    (lambda lib: lib.tensor([1.0, 2.0]), (True,)),
])
def test_errors_match_torch(make, args):
    with pytest.raises((RuntimeError, TypeError)) as expected:
        torch.multinomial(make(torch), *args)
    with pytest.raises(type(expected.value)) as got:
        ndgrad.multinomial(make(ndgrad), *args)
    assert str(got.value) == str(expected.value)
