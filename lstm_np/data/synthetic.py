"""A small offline rating data set whose ratings depend on item ORDER.

Generative rule (all randomness from ``numpy.random.default_rng(seed)``):

* Item ``i`` (ids 1..n_items) belongs to group ``g(i) = (i - 1) % n_groups``.
  The groups form a cycle 0 -> 1 -> ... -> n_groups-1 -> 0.
* Each user rates a sequence of distinct items. After an item of group g the
  next item is, with probability ``p_follow``, drawn from the successor group
  ``(g + 1) % n_groups``, otherwise from the other groups (uniformly over the
  user's unrated items; if the chosen groups are used up, from any unrated item).
* The rating of the t-th item is::

      latent = 3 + b_user + b_item + effect * s_t + noise,   noise ~ N(0, noise**2)
      rating = clip(round(latent), 1, 5)

  with ``s_t = +1`` if ``g(item_t) == (g(item_{t-1}) + 1) % n_groups`` (the
  item follows the cycle), ``-1`` otherwise, and ``s_1 = 0``; ``b_user`` and
  ``b_item`` are small N(0, bias**2) offsets.

Every item therefore appears in "follows" and "does not follow" contexts
about equally often, so ``mu + b_user + b_item`` explains little, while a
model that remembers the previous item (a recurrent one) can recover ``s_t``.
Timestamps increase strictly within each user, so time order = sequence order.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

import numpy as np

from .._checks import as_int, as_scalar
from .ratings import Ratings

__all__ = ["make_synthetic", "synthetic_groups"]


def synthetic_groups(item: np.ndarray, n_groups: int = 4) -> np.ndarray:
    """Group of each item id: shape like ``item``, ``(item - 1) % n_groups``."""
    return (np.asarray(item, dtype=np.int64) - 1) % n_groups


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"make_synthetic: {message}")


def _sequence(rng: np.random.Generator, length: int, n_items: int, n_groups: int,
              p_follow: float) -> np.ndarray:
    """One user's item sequence, shape (length,), distinct item ids."""
    # Per group, the user's unrated items in random order: pop() draws uniformly.
    unused = [list(rng.permutation(np.arange(g, n_items, n_groups) + 1)) for g in range(n_groups)]
    follow = rng.random(length) < p_follow
    uniform = rng.random(length)
    items = np.empty(length, dtype=np.int64)
    previous = None
    for t in range(length):
        if previous is None:
            wanted = range(n_groups)
        elif follow[t]:
            wanted = [(previous + 1) % n_groups]
        else:
            wanted = [g for g in range(n_groups) if g != (previous + 1) % n_groups]
        groups = [g for g in wanted if unused[g]] or [g for g in range(n_groups) if unused[g]]
        # Pick a group in proportion to its unrated items = a uniform unrated item.
        bounds = list(accumulate(len(unused[g]) for g in groups))
        group = groups[bisect_right(bounds, uniform[t] * bounds[-1])]
        items[t] = unused[group].pop()
        previous = group
    return items


def make_synthetic(n_users: int = 300, n_items: int = 80, min_len: int = 20, max_len: int = 60, *,
                   n_groups: int = 4, p_follow: float = 0.5, effect: float = 1.2,
                   bias: float = 0.25, noise: float = 0.3, seed: int = 0) -> Ratings:
    """Generate the order-dependent data set described in the module docstring.

    Parameters
    ----------
    n_users, n_items : int
        Users have ids 1..n_users, items 1..n_items.
    min_len, max_len : int
        Each user rates a uniform number of distinct items in [min_len, max_len].
    n_groups : int
        Number of item groups in the cycle (>= 2).
    p_follow : float
        Probability that the next item comes from the successor group.
    effect : float
        Rating shift for following (+effect) or not following (-effect) the cycle.
    bias, noise : float
        Standard deviations of the user/item offsets and of the rating noise.
    seed : int
        Seed for ``numpy.random.default_rng``; the same seed gives identical data.

    Returns
    -------
    Ratings
        N = sum of sequence lengths rows, ordered by (user, timestamp); whole
        ratings in 1..5; titles ``"Item 7 (group 2)"``.
    """
    # The kind of each setting first (TypeError for text or None, ValueError for fractions, NaN, inf), then
    # how they fit together.
    n_users, n_items = as_int("n_users", n_users), as_int("n_items", n_items)
    min_len, max_len, n_groups = as_int("min_len", min_len), as_int("max_len", max_len), as_int("n_groups", n_groups)
    p_follow, effect = as_scalar("p_follow", p_follow), as_scalar("effect", effect)
    bias, noise, seed = as_scalar("bias", bias), as_scalar("noise", noise), as_int("seed", seed, 0)
    _check(n_users >= 1, f"n_users must be >= 1, got {n_users}")
    _check(n_users * max(max_len, 0) <= 10**8, f"n_users x max_len = {n_users * max_len:,} ratings; at most 10**8")
    _check(2 <= n_groups <= n_items, f"need 2 <= n_groups <= n_items, got n_groups={n_groups}, n_items={n_items}")
    _check(1 <= min_len <= max_len <= n_items,
           f"need 1 <= min_len <= max_len <= n_items, got {min_len}, {max_len}, n_items={n_items}")
    _check(0.0 <= p_follow <= 1.0, f"p_follow must be in [0, 1], got {p_follow}")
    _check(bias >= 0 and noise >= 0, f"bias and noise must be >= 0, got {bias}, {noise}")

    rng = np.random.default_rng(seed)
    user_bias = rng.normal(0.0, bias, n_users)
    item_bias = rng.normal(0.0, bias, n_items)
    lengths = rng.integers(min_len, max_len + 1, n_users)
    item = np.concatenate([_sequence(rng, int(length), n_items, n_groups, p_follow) for length in lengths])
    user = np.repeat(np.arange(1, n_users + 1, dtype=np.int64), lengths)

    group = synthetic_groups(item, n_groups)
    first = np.r_[0, np.cumsum(lengths)[:-1]]  # row of each user's first rating
    follows = np.r_[False, group[1:] == (group[:-1] + 1) % n_groups]
    context = np.where(follows, 1.0, -1.0)
    context[first] = 0.0  # a user's first item has no predecessor
    latent = 3.0 + user_bias[user - 1] + item_bias[item - 1] + effect * context \
        + rng.normal(0.0, noise, len(item))
    rating = np.clip(np.round(latent), 1.0, 5.0)

    # Strictly increasing per user: a random start plus positive gaps.
    gaps = rng.integers(60, 86_400, len(item))
    gaps[first] = 1_000_000_000 + rng.integers(0, 10**7, n_users)
    timestamp = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first] - gaps[first], lengths)

    titles = {i: f"Item {i} (group {g})" for i, g in
              zip(range(1, n_items + 1), synthetic_groups(np.arange(1, n_items + 1), n_groups).tolist())}
    return Ratings(user, item, rating, timestamp.astype(np.int64), titles)
