"""Why this movie? Which movies of a history support a recommendation, two ways, and how faithful each is.

Two methods rank the last ``depth`` movies of a history by how much each
supports a recommended movie r:

* **attention** (``method="attention"``, models with attention only): the
  weight alpha_j the last attention gives to step j (``cells.attention``).
  It is what the model *looked at*, the same for every recommended movie,
  and it says nothing of the path through the LSTM's state.
* **leave-one-out influence** (``method="influence"``, any model): remove
  movie j from the history, run the model again, and measure how far the
  log-probability of r falls: ``log p(r | history) - log p(r | history
  without j)``. It is specific to r, costs one more run of the model per
  movie, and measures exactly one thing: what the model does without j.

**Faithfulness** (``faithfulness``): an explanation is faithful when the
movies it names are the ones the model's output depends on. For each user,
with r the model's top unseen movie, delete the k movies a method ranks
most important (k = 1, 3, 5) and measure how far log p(r) falls and where r
now ranks; compare with deleting k movies drawn at random from the same
last ``depth`` (several draws) and the k most recent. A method whose
deletions hurt no more than random ones explains nothing.

All deletions are among the last ``depth`` movies of a history (default
20, the attention's window in the default settings), so every method picks
from the same candidates. Ranks are among the movies the user has not seen
(the deleted ones stay excluded), ties against the model.
"""

from __future__ import annotations

import numbers

import numpy as np

from .ranking import check_histories, exclusion_mask

__all__ = ["METHODS", "support", "explain", "faithfulness", "format_faithfulness"]

#: The explanation methods; "recent" and "random" are the baselines of ``faithfulness``.
METHODS = ("attention", "influence")


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _positive(name, v, high=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 or (high is not None and v > high):
        raise ValueError(f"{name} must be an integer in [1, {high if high is not None else 'inf'}]; got {v!r}")
    return int(v)


def _check_method(net, method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if method == "attention" and not hasattr(net, "attention_weights"):
        raise ValueError("method 'attention' needs a model with attention (train with --attention dot or additive); "
                         "this model has none: use method 'influence'")


def _without(history, positions):
    keep = np.ones(len(history), bool)
    keep[list(positions)] = False
    return history[keep]


def support(net, history, items, method="influence", depth=20):
    """How much each of the last ``depth`` movies of ``history`` supports each of ``items``.

    Parameters
    ----------
    net : NextItemNet or AttentiveNextItemNet
    history : (n,) int
        Item indices, oldest first.
    items : (m,) int
        Item indices of the recommended movies.
    method : "attention" or "influence"
    depth : int >= 1

    Returns
    -------
    (m, n) float64
        Row k: the support of each history step for ``items[k]`` (attention:
        the same weights in every row); 0 for steps older than ``depth``.
    """
    _check_method(net, method)
    depth = _positive("depth", depth)
    (history,) = check_histories([history], net.num_items)
    (items,) = check_histories([items], net.num_items, "items")
    n = len(history)
    out = np.zeros((len(items), n))
    if n == 0 or len(items) == 0:
        return out
    cand = np.arange(max(0, n - depth), n)
    if method == "attention":
        w = net.attention_weights(history)
        out[:, cand] = w[cand]
        return out
    lp = _log_softmax(net.score([history] + [_without(history, [j]) for j in cand]))
    out[:, cand] = (lp[0, items][:, None] - lp[1:, items].T)
    return out


def explain(net, history, items, method="influence", depth=20, top=3):
    """The ``top`` history steps that most support each of ``items``: a list (per item) of (position, support)."""
    top = _positive("top", top)
    s = support(net, history, items, method, depth)
    n = s.shape[1]
    lo = max(0, n - depth)
    out = []
    for row in s:
        cand = np.arange(lo, n)
        order = cand[np.lexsort((-cand, -row[cand]))][:top]  # ties: the more recent first
        out.append([(int(j), float(row[j])) for j in order])
    return out


def _rank(lp, target, exclude_row):
    """1 + the number of unseen items scoring at least as high as ``target`` (ties against the model)."""
    ok = ~exclude_row
    ok[target] = False
    return 1 + int(np.count_nonzero(lp[ok] >= lp[target]))


def faithfulness(net, histories, *, ks=(1, 3, 5), depth=20, draws=5, seed=0, methods=None, batch_size=256,
                 progress=None):
    """Delete the k movies each method ranks most important; how far does the top recommendation fall?

    Parameters
    ----------
    net : NextItemNet or AttentiveNextItemNet
    histories : list of (n_u,) int
        Item indices, oldest first (users with fewer than ``max(ks)`` steps are left out).
    ks : sequence of int
    depth : int
        Deletions are among each history's last ``depth`` steps.
    draws : int
        Random deletions per user and k.
    seed : int
        Draws the random deletions.
    methods : sequence of str, optional
        Default: "influence", and "attention" when the model has attention.
    progress : callable, optional
        Wraps an iterable (e.g. ``tqdm``).

    Returns
    -------
    dict
        ``{"users": n, "ks": [...], "rows": {name: {k: {"drop": mean fall of log p(r), "drop_se": its
        standard error over users, "rank": mean rank of r after, "out_of_top10": share of users}}}}``
        for name in the methods, "recent" and "random".
    """
    ks = [_positive("k", k) for k in ks]
    depth, draws = _positive("depth", depth), _positive("draws", draws)
    if max(ks) > depth:
        raise ValueError(f"every k must be at most depth = {depth}; got {ks}")
    if methods is None:
        methods = ["influence"] + (["attention"] if hasattr(net, "attention_weights") else [])
    for m in methods:
        _check_method(net, m)
    hist = [h for h in check_histories(histories, net.num_items) if len(h) >= max(ks)]
    if not hist:
        raise ValueError(f"no history has {max(ks)} or more steps")
    rng = np.random.default_rng(seed)
    names = list(methods) + ["recent", "random"]
    drops = {m: {k: [] for k in ks} for m in names}
    ranks = {m: {k: [] for k in ks} for m in names}
    out10 = {m: {k: [] for k in ks} for m in names}
    it = range(0, len(hist), batch_size)
    for lo in (progress(it) if progress else it):
        chunk = hist[lo : lo + batch_size]
        exclude = exclusion_mask(chunk, net.num_items)
        lp0 = _log_softmax(net.score(chunk))
        lp0[exclude] = -np.inf
        top = np.argmax(lp0, axis=1)  # ties: the lowest index, as the recommender's list
        jobs = []  # (user in chunk, method, k, draw, reduced history)
        for u, h in enumerate(chunk):
            n = len(h)
            cand = np.arange(max(0, n - depth), n)
            order = {}
            for m in methods:
                s = support(net, h, [top[u]], m, depth)[0]
                order[m] = cand[np.lexsort((-cand, -s[cand]))]
            order["recent"] = cand[::-1]
            for k in ks:
                for m in list(methods) + ["recent"]:
                    jobs.append((u, m, k, _without(h, order[m][:k])))
                for _ in range(draws):
                    jobs.append((u, "random", k, _without(h, rng.choice(cand, size=k, replace=False))))
        lp = _log_softmax(net.score([j[3] for j in jobs]))
        scratch = {}
        for (u, m, k, _), row in zip(jobs, lp):
            r = top[u]
            scratch.setdefault((u, m, k), []).append((lp0[u, r] - row[r], _rank(row, r, exclude[u])))
        for (u, m, k), vals in scratch.items():  # per user, the mean over its draws (one for a method)
            drops[m][k].append(np.mean([v[0] for v in vals]))
            ranks[m][k].append(np.mean([v[1] for v in vals]))
            out10[m][k].append(np.mean([v[1] > 10 for v in vals]))  # per draw, then averaged: comparable rows
    rows = {}
    for m in names:
        rows[m] = {}
        for k in ks:
            d, r = np.array(drops[m][k]), np.array(ranks[m][k])
            rows[m][k] = {"drop": float(d.mean()), "drop_se": float(d.std(ddof=1) / np.sqrt(len(d))),
                          "rank": float(r.mean()), "out_of_top10": float(np.mean(out10[m][k]))}
    return {"users": len(hist), "ks": ks, "depth": depth, "draws": draws, "rows": rows}


def format_faithfulness(result):
    """``faithfulness``'s result as a Markdown table."""
    ks = result["ks"]
    head = "| deleted | " + " | ".join(f"k = {k}: fall of log p(r) | k = {k}: r leaves the top 10" for k in ks) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(ks)]
    labels = {"attention": "the k with the largest attention weight", "influence": "the k most influential "
              "(leave-one-out)", "recent": "the k most recent", "random": f"k at random ({result['draws']} draws)"}
    for m, row in result["rows"].items():
        cells = " | ".join(f"{row[k]['drop']:.3f} ± {row[k]['drop_se']:.3f} | {row[k]['out_of_top10']:.1%}"
                           for k in ks)
        lines.append(f"| {labels.get(m, m)} | {cells} |")
    return "\n".join(lines)
