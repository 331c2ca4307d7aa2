"""Reading what your function returned: each part as a float64 array of the right shape, or a problem in words.

A reader returns ``(parts, problems, raw)``: the parts it could read, a message
per part it could not, and the arrays of a wrong shape as they came (so that
the diagnosis can still recognise, say, a bias gradient summed over the wrong
axis). The backward readers also read each gate's block of dz (GRU: da, du):
from ``grads["b"]`` where B = 1, and where B > 1 from the weight gradients
(``recover_rows``) when those agree with each other and with the bias gradient.
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import relative_error
from .inputs import TOLERANCE

__all__ = ["Unreadable", "READERS", "same"]


class Unreadable(Exception):
    """The whole return value has the wrong structure."""


def same(a, b, tol=TOLERANCE):
    """Equal shapes and a relative error of at most ``tol``."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and relative_error(a, b) <= tol


def _as_sequence(out, n, names):
    if not isinstance(out, (tuple, list)):
        raise Unreadable(f"returned a {type(out).__name__}; expected a tuple of {n}: {names}")
    if len(out) != n:
        raise Unreadable(f"returned a tuple of {len(out)}; expected {n}: {names}")
    return out


def _array(value, name, shape, symbolic, problems, raw, part=None):
    """``value`` as a float64 array of ``shape``, or None with a message in ``problems``."""
    part = part or name
    if value is None:
        problems[part] = f"{name} is None; expected an array of shape {symbolic} = {shape}"
        return None
    try:
        a = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything that is not an array is reported
        a = None
    if a is None or a.dtype.kind not in "fiu":
        problems[part] = f"{name} is a {type(value).__name__}; expected a float64 array of shape {symbolic} = {shape}"
        return None
    if a.shape != shape:
        problems[part] = f"{name} has shape {a.shape}; expected {symbolic} = {shape}"
        if np.all(np.isfinite(a)):
            raw[part] = a.astype(np.float64)
        return None
    if a.dtype != np.float64:
        problems[part] = f"{name} has dtype {a.dtype}; expected float64, the dtype of the inputs"
        return None
    if not np.all(np.isfinite(a)):
        problems[part] = f"{name} contains NaN or inf"
        return None
    return a


def _check_passthrough(cache, expected, names, problems):
    """The cache entries that are the inputs must be the inputs."""
    for k, (name, value) in enumerate(zip(names, expected)):
        got = cache[k]
        try:
            ok = np.asarray(got).shape == np.shape(value) and np.array_equal(np.asarray(got), value)
        except Exception:  # noqa: BLE001
            ok = False
        if not ok:
            problems["cache"] = (
                f"cache entry {k} ({name}) is not the input {name}; the cache is ({', '.join(names)}), in this order"
            )
            return


def _read_cache(cache, p, names, n_inputs, upto, problems, raw, parts):
    """Check the cache's structure and pass-through entries; read entries ``n_inputs:upto`` into ``parts``."""
    if not isinstance(cache, (tuple, list)) or len(cache) != len(names):
        n = f"{len(cache)} long" if isinstance(cache, (tuple, list)) else f"a {type(cache).__name__}"
        problems["cache"] = f"cache is {n}; expected a tuple of {len(names)}: ({', '.join(names)})"
        for k in names[n_inputs:upto]:
            problems.setdefault(k, f"{k} not read: the cache has the wrong structure")
        return None
    _check_passthrough(cache, p.args[:n_inputs], names, problems)
    for k in range(n_inputs, upto):
        name = names[k]
        parts[name] = _array(cache[k], f"cache entry {k} ({name})", (p.B, p.H), "(B, H)", problems, raw, part=name)
    return cache


def _read_lstm_forward(out, p):
    B, H = p.B, p.H
    parts, problems, raw = {}, {}, {}
    h, c, cache = _as_sequence(out, 3, "h, c, cache")
    parts["h"] = _array(h, "h", (B, H), "(B, H)", problems, raw)
    parts["c"] = _array(c, "c", (B, H), "(B, H)", problems, raw)
    names = ("x", "h_prev", "c_prev", "Wx", "Wh", "i", "f", "o", "g", "c")
    cache = _read_cache(cache, p, names, 5, 9, problems, raw, parts)
    if cache is not None:
        cache_c = _array(cache[9], "cache entry 9 (c)", (B, H), "(B, H)", problems, {}, part="cache")
        if cache_c is not None and parts["c"] is not None and not np.array_equal(cache_c, parts["c"]):
            problems["cache"] = "cache entry 9 (c) is not the c that the function returns"
    return parts, problems, raw


def _read_gru_forward(out, p):
    B, H = p.B, p.H
    parts, problems, raw = {}, {}, {}
    h, cache = _as_sequence(out, 2, "h, cache")
    parts["h"] = _array(h, "h", (B, H), "(B, H)", problems, raw)
    _read_cache(cache, p, ("x", "h_prev", "Wx", "Wh", "r", "z", "n", "u_n"), 4, 8, problems, raw, parts)
    return parts, problems, raw


def _reduced(dz):
    """dz reduced over the batch in every way a bias gradient may be (right or not)."""
    return (dz.sum(axis=0), dz.mean(axis=0), dz.sum(axis=0, keepdims=True), dz.sum(axis=1), dz.mean(axis=1),
            np.sum(dz), dz)  # fmt: skip


def recover_rows(witnesses, total, B):
    """dz (B, nH) from its products ``(A, A^T dz)`` and the bias gradient ``total``, when two agree.

    ``A^T dz`` with A of shape (B, k) determines dz when A's B rows are independent
    (k >= B): each product gives a candidate. A candidate is taken when another one
    agrees with it, or when the bias gradient is the candidate reduced over the batch
    (summed, or in one of the wrong ways a learner may reduce it: then the bias line
    is wrong, not dz). Where B = 1 and nothing agrees, the bias gradient is taken as dz.
    None otherwise.
    """
    candidates = []
    for A, product in witnesses:
        if product is None or A.shape[1] < A.shape[0] or np.linalg.matrix_rank(A) < A.shape[0]:
            continue
        dz = np.linalg.lstsq(A.T, product, rcond=None)[0]
        if same(A.T @ dz, product, 1e-8):
            candidates.append(dz)
    for k, dz in enumerate(candidates):
        for other in candidates[k + 1 :]:
            if same(dz, other, 1e-7):
                return dz
        if total is not None and any(same(v, total, 1e-8) for v in _reduced(dz)):
            return dz
    if B == 1 and total is not None:
        return total.reshape(1, -1)
    return None


def _blocks_into(parts, names, vec, H):
    for k, name in enumerate(names):
        parts[name] = vec[:, k * H : (k + 1) * H]


def _read_lstm_backward(out, p):
    B, D, H = p.B, p.D, p.H
    parts, problems, raw = {}, {}, {}
    dx, dh_prev, dc_prev, grads = _as_sequence(out, 4, "dx, dh_prev, dc_prev, grads")
    parts["dx"] = _array(dx, "dx", (B, D), "(B, D)", problems, raw)
    parts["dh_prev"] = _array(dh_prev, "dh_prev", (B, H), "(B, H)", problems, raw)
    parts["dc_prev"] = _array(dc_prev, "dc_prev", (B, H), "(B, H)", problems, raw)
    if not isinstance(grads, dict) or set(grads) != {"Wx", "Wh", "b"}:
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise Unreadable(f'grads is {keys}; expected a dict with the keys "Wx", "Wh", "b"')
    parts["dWx"] = _array(grads["Wx"], 'grads["Wx"]', (D, 4 * H), "(D, 4H)", problems, raw, part="dWx")
    parts["dWh"] = _array(grads["Wh"], 'grads["Wh"]', (H, 4 * H), "(H, 4H)", problems, raw, part="dWh")
    parts["db"] = _array(grads["b"], 'grads["b"]', (4 * H,), "(4H,)", problems, raw, part="db")
    names = ("dz_i", "dz_f", "dz_o", "dz_g")
    db = parts["db"] if parts["db"] is not None else raw.get("db")
    x, h_prev = p.args[2][0], p.args[2][1]
    dz = recover_rows([(x, parts["dWx"]), (h_prev, parts["dWh"])], db, B)
    if dz is not None and dz.shape != (B, 4 * H):
        dz = None
    if dz is not None:
        _blocks_into(parts, names, dz, H)
    return parts, problems, raw


def _read_gru_backward(out, p):
    B, D, H = p.B, p.D, p.H
    parts, problems, raw = {}, {}, {}
    dx, dh_prev, grads = _as_sequence(out, 3, "dx, dh_prev, grads")
    parts["dx"] = _array(dx, "dx", (B, D), "(B, D)", problems, raw)
    parts["dh_prev"] = _array(dh_prev, "dh_prev", (B, H), "(B, H)", problems, raw)
    if not isinstance(grads, dict) or set(grads) != {"Wx", "Wh", "bx", "bh"}:
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise Unreadable(f'grads is {keys}; expected a dict with the keys "Wx", "Wh", "bx", "bh"')
    parts["dWx"] = _array(grads["Wx"], 'grads["Wx"]', (D, 3 * H), "(D, 3H)", problems, raw, part="dWx")
    parts["dWh"] = _array(grads["Wh"], 'grads["Wh"]', (H, 3 * H), "(H, 3H)", problems, raw, part="dWh")
    x, h_prev = p.args[1][0], p.args[1][1]
    for key, vec, A, dW in (("bx", "da", x, "dWx"), ("bh", "du", h_prev, "dWh")):
        part = f"d{key}"
        parts[part] = _array(grads[key], f'grads["{key}"]', (3 * H,), "(3H,)", problems, raw, part=part)
        names = tuple(f"{vec}_{g}" for g in "rzn")
        db = parts[part] if parts[part] is not None else raw.get(part)
        d = recover_rows([(A, parts[dW])], db, B)
        if d is not None and d.shape == (B, 3 * H):
            _blocks_into(parts, names, d, H)
    return parts, problems, raw


READERS = {"lstm_forward": _read_lstm_forward, "lstm_backward": _read_lstm_backward,
           "gru_forward": _read_gru_forward, "gru_backward": _read_gru_backward}  # fmt: skip
