"""The synthetic order-dependent data set."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from lstm_np.data import make_synthetic, synthetic_groups

FIELDS = ("user", "item", "rating", "timestamp")


@pytest.fixture(scope="module")
def data():
    return make_synthetic()


def context(ratings, n_groups=4) -> np.ndarray:
    """0 = first rating of a user, 1 = item follows the group cycle, 2 = it does not."""
    group = synthetic_groups(ratings.item, n_groups)
    first = np.r_[True, ratings.user[1:] != ratings.user[:-1]]
    ctx = np.where(np.r_[False, group[1:] == (group[:-1] + 1) % n_groups], 1, 2)
    ctx[first] = 0
    return ctx


def bias_rmse(ratings, ctx=None, iters=30, lam=1.0) -> float:
    """In-sample RMSE of mu + b_user + b_item (+ b_context), fitted by alternating means."""
    y, u, i = ratings.rating, ratings.user, ratings.item
    c = np.zeros(len(y), dtype=np.int64) if ctx is None else ctx
    mu, bu, bi, bc = y.mean(), np.zeros(u.max() + 1), np.zeros(i.max() + 1), np.zeros(3)
    for _ in range(iters):
        for b, key in ((bu, u), (bi, i)):
            residual = y - mu - bu[u] - bi[i] - bc[c] + b[key]
            b[:] = np.bincount(key, residual, len(b)) / (np.bincount(key, minlength=len(b)) + lam)
        if ctx is not None:
            residual = y - mu - bu[u] - bi[i]
            bc[:] = np.bincount(c, residual, 3) / np.maximum(np.bincount(c, minlength=3), 1)
    return float(np.sqrt(np.mean((y - mu - bu[u] - bi[i] - bc[c]) ** 2)))


def test_shapes_dtypes_and_ranges(data):
    n = len(data)
    assert [getattr(data, f).shape for f in FIELDS] == [(n,)] * 4
    assert [getattr(data, f).dtype for f in FIELDS] == [np.int64, np.int64, np.float64, np.int64]
    assert set(np.unique(data.rating).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.unique(data.user).tolist() == list(range(1, 301))
    assert np.unique(data.item).tolist() == list(range(1, 81))
    lengths = np.bincount(data.user)[1:]
    assert lengths.min() >= 20 and lengths.max() <= 60


def test_sequences_are_timed_and_distinct(data):
    same_user = data.user[1:] == data.user[:-1]
    assert np.all(np.diff(data.timestamp)[same_user] > 0)  # strictly increasing per user
    assert np.all(np.diff(data.user) >= 0)  # rows ordered by user
    pairs = data.user * 1000 + data.item
    assert len(np.unique(pairs)) == len(data)  # no item rated twice by a user


def test_titles_name_the_group(data):
    assert len(data.titles) == 80
    assert data.titles[7] == "Item 7 (group 2)"
    for item, title in data.titles.items():
        assert int(re.fullmatch(r"Item (\d+) \(group (\d+)\)", title).group(2)) == synthetic_groups(item)


def test_same_seed_same_data_other_seed_differs(data):
    again, other = make_synthetic(), make_synthetic(seed=1)
    assert all(np.array_equal(getattr(data, f), getattr(again, f)) for f in FIELDS)
    assert not np.array_equal(data.rating[:200], other.rating[:200])


def test_order_explains_ratings_item_bias_does_not(data):
    ctx = context(data)
    # Every item is seen both following and not following the cycle.
    share = np.bincount(data.item, ctx == 1)[1:] / np.bincount(data.item)[1:]  # ids start at 1
    assert 0.25 < share.min() and share.max() < 0.75
    without, with_order = bias_rmse(data), bias_rmse(data, ctx)
    assert without > 1.1
    assert with_order < 0.5
    assert without - with_order > 0.6
    assert 1.3 < data.rating.var() < 2.0


def test_fast():
    """CPU time of this process, not wall-clock: another job on a busy machine cannot make it fail."""
    start = time.process_time()
    make_synthetic(seed=3)
    assert time.process_time() - start < 0.5


def test_small_custom_sizes():
    small = make_synthetic(n_users=5, n_items=12, min_len=12, max_len=12, n_groups=3, seed=2)
    assert len(small) == 60
    assert np.all(np.bincount(small.user)[1:] == 12)
    assert synthetic_groups(np.array([1, 2, 3, 4]), 3).tolist() == [0, 1, 2, 0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_users=0), "n_users must be >= 1"),
    (dict(n_groups=1), "need 2 <= n_groups <= n_items"),
    (dict(min_len=30, max_len=20), "need 1 <= min_len <= max_len <= n_items"),
    (dict(max_len=81), "need 1 <= min_len <= max_len <= n_items"),
    (dict(p_follow=1.5), r"p_follow must be in \[0, 1\]"),
    (dict(noise=-1.0), "bias and noise must be >= 0"),
])
def test_argument_validation(kwargs, message):
    with pytest.raises(ValueError, match=f"make_synthetic: {message}"):
        make_synthetic(**kwargs)
