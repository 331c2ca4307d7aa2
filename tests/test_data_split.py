"""Per-user temporal split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_np.data import TEST, TRAIN, VAL, Ratings, Split, temporal_split


def ratings_from(user, item, timestamp) -> Ratings:
    user, item, timestamp = (np.asarray(a, dtype=np.int64) for a in (user, item, timestamp))
    return Ratings(user, item, np.full(len(user), 3.0), timestamp)


def per_user_sizes(ratings: Ratings, split: Split) -> dict[int, tuple[int, int, int]]:
    return {int(u): tuple(int(np.sum(ratings.user[part] == u)) for part in (split.train, split.val, split.test))
            for u in np.unique(ratings.user)}


def test_hand_counts():
    # user -> number of ratings; expected (train, val, test) worked out by hand
    # with ceil(0.1 n) test, then ceil(0.1 n) validation from what is left.
    expected = {1: (8, 1, 1), 2: (7, 2, 2), 3: (0, 0, 1), 4: (0, 1, 1), 5: (1, 1, 1), 6: (24, 3, 3)}
    counts = {1: 10, 2: 11, 3: 1, 4: 2, 5: 3, 6: 30}
    user = np.repeat(list(counts), list(counts.values()))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(user))  # rows in no particular order
    ratings = ratings_from(user[order], np.arange(len(user)) + 1, rng.permutation(len(user)))
    split = temporal_split(ratings)
    assert per_user_sizes(ratings, split) == expected
    assert split.sizes == (40, 8, 9)


def test_ceil_is_exact_for_the_decimal_fraction():
    # In floats 0.14 * 50 = 7.000000000000001, whose ceiling would be 8.
    ratings = ratings_from([1] * 50, range(1, 51), range(50))
    assert temporal_split(ratings, frac=0.14).sizes == (36, 7, 7)


def test_last_ratings_are_test_and_ties_break_by_integer_item_id():
    # Ten ratings of one user; the last two share a timestamp. Item 10 sorts
    # after item 9 as an integer (as a string "10" would come first).
    item = [1, 2, 3, 4, 5, 6, 7, 8, 10, 9]
    timestamp = [1, 2, 3, 4, 5, 6, 7, 8, 50, 50]
    ratings = ratings_from([7] * 10, item, timestamp)
    split = temporal_split(ratings)
    assert ratings.item[split.test].tolist() == [10]
    assert ratings.item[split.val].tolist() == [9]
    assert ratings.item[split.train].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]


def test_parts_are_ordered_by_user_time_item():
    ratings = ratings_from([2, 1, 2, 1, 2, 1] * 4, list(range(24, 0, -1)), [5, 5, 1, 1, 3, 3] * 4)
    split = temporal_split(ratings, frac=0.2)
    for part in (split.train, split.val, split.test):
        keys = list(zip(ratings.user[part], ratings.timestamp[part], ratings.item[part]))
        assert keys == sorted(keys)
    assert split.sizes == (12, 6, 6)  # per user: 12 ratings, ceil(2.4) = 3 test, 3 val


def test_labels_helper():
    ratings = ratings_from([1] * 10, range(1, 11), range(10))
    labels = temporal_split(ratings).labels(10)
    assert labels.tolist() == [TRAIN] * 8 + [VAL, TEST]
    assert labels.dtype == np.int8


def test_empty_input():
    split = temporal_split(ratings_from([], [], []))
    assert split.sizes == (0, 0, 0)
    assert split.train.dtype == np.int64


@pytest.mark.parametrize("frac, error", [(0, ValueError), (0.5, ValueError), (-0.1, ValueError), (1.0, ValueError),
                                         (float("nan"), ValueError), (True, TypeError), ("0.1", TypeError),
                                         (None, TypeError)])
def test_frac_validation(frac, error):  # not a number: TypeError, as the README's table says
    with pytest.raises(error, match=r"frac must be a number in \(0, 0\.5\), got"):
        temporal_split(ratings_from([1], [1], [1]), frac=frac)


def test_split_rejects_non_int64_index():
    with pytest.raises(TypeError, match=r"Split\.val: expected a 1-D int64 array, got int32"):
        Split(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64))


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 60), min_size=1, max_size=12),
       frac=st.sampled_from([0.05, 0.1, 0.14, 0.2, 0.25, 0.28, 0.3, 0.49]),
       seed=st.integers(0, 2**32 - 1))
def test_split_properties(counts, frac, seed):
    rng = np.random.default_rng(seed)
    user = rng.permutation(np.repeat(np.arange(1, len(counts) + 1), counts))
    n = len(user)
    # Few distinct timestamps so ties (broken by item) are common.
    ratings = ratings_from(user, rng.permutation(n) + 1, rng.integers(0, 5, n))
    split = temporal_split(ratings, frac)

    # Every row exactly once.
    together = np.concatenate([split.train, split.val, split.test])
    assert np.array_equal(np.sort(together), np.arange(n))

    for u, (n_train, n_val, n_test) in per_user_sizes(ratings, split).items():
        total = counts[u - 1]
        want = -(-total * round(frac * 100) // 100)  # exact ceil(frac * total)
        assert n_test == min(want, total)
        assert n_val == min(want, total - n_test)
        assert n_train == total - n_val - n_test >= 0

    # Within a user, train < val < test in (timestamp, item) order.
    labels = split.labels(n)
    order = np.lexsort((ratings.item, ratings.timestamp, ratings.user))
    for u in range(1, len(counts) + 1):
        seq = labels[order][ratings.user[order] == u]
        assert np.all(np.diff(seq) >= 0)
