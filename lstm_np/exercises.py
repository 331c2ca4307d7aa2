"""Exercises: write the LSTM and GRU steps yourself, and have them checked.

Notebook ``notebooks/08_exercises.ipynb`` asks for four functions, with the
signatures of the reference steps in ``lstm_np.cells``:

===========================  =====================================================
your function                checked by
===========================  =====================================================
``lstm_step_forward``        ``check_lstm_forward(fn)``: ``fn(x, h_prev, c_prev,
                             Wx, Wh, b) -> h, c, cache``
``lstm_step_backward``       ``check_lstm_backward(fn)``: ``fn(dh, dc_next,
                             cache) -> dx, dh_prev, dc_prev, grads``
``gru_step_forward``         ``check_gru_forward(fn)``: ``fn(x, h_prev, Wx, Wh,
                             bx, bh) -> h, cache``
``gru_step_backward``        ``check_gru_backward(fn)``: ``fn(dh, cache) -> dx,
                             dh_prev, grads``
===========================  =====================================================

Each check calls your function on a small fixed input (``fixed_inputs``, numbers
you can follow by hand), on random float64 inputs of several shapes, and (for
the backward steps) compares with central differences
(``lstm_np.gradcheck.numerical_gradient``). It prints a report that says, part
by part, what is right and what is wrong, and returns a ``CheckResult``.

How the report knows *what* is wrong
------------------------------------
The backward step returns the gate gradients only implicitly, through
``grads["b"]`` (the sum over the batch of dz). With one row (B = 1),
``grads["b"]`` *is* dz, so the checker reads dz_i, dz_f, dz_o, dz_g (GRU: da
and du) from inputs with B = 1 and judges each gate on its own. It then
compares each wrong part with the common mistakes (a dropped forget path,
tanh(c) missing from dz_o, an untransposed Wh, the sigmoid derivative applied to
g, a missing dc_next, c where c_prev belongs, ...), alone and in pairs, and
names the one that reproduces your numbers. A part computed right from a wrong
input (dx = dz Wx^T with a wrong dz) is reported as following from it.

The notebook comes with the solutions filled in (cells tagged ``solution``,
the body below a ``# SOLUTION`` line). To get the version to fill in::

    python -m lstm_np.exercises --stubs notebooks/08_exercises.ipynb my_exercises.ipynb

which replaces each solution body with ``raise NotImplementedError``.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import linecache
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cells import gru as gru_cell
from .cells import lstm as lstm_cell
from .cells.lstm import sigmoid
from .gradcheck import numerical_gradient, relative_error

__all__ = [
    "TOLERANCE",
    "CheckResult",
    "check_lstm_forward",
    "check_lstm_backward",
    "check_gru_forward",
    "check_gru_backward",
    "fixed_inputs",
    "make_stubs",
    "write_stub_notebook",
    "SOLUTION_TAG",
    "SOLUTION_MARKER",
]

#: Largest relative error (``gradcheck.relative_error``) accepted between your
#: output and the reference, in float64.
TOLERANCE = 1e-9

#: Cell tag and source line that mark a solution in the exercise notebook.
SOLUTION_TAG = "solution"
SOLUTION_MARKER = "# SOLUTION"
STUB_LINES = ("# YOUR CODE HERE: the equations are in the cell above.", 'raise NotImplementedError("your code here")')


# --------------------------------------------------------------------------- result


@dataclass
class CheckResult:
    """What a check found.

    Attributes
    ----------
    exercise : str
        ``"lstm_forward"``, ``"lstm_backward"``, ``"gru_forward"`` or ``"gru_backward"``.
    ok : bool
        True when every output equals the reference on every input.
    status : str
        ``"passed"``, ``"not implemented"``, ``"wrong"`` or ``"error"`` (it raised, or
        returned something of the wrong structure on every input).
    messages : list of str
        The report, one line each (what ``print(result)`` shows).
    parts : dict of str to str
        Each checked part (``"h"``, ``"dz_o"``, ``"dh_prev"``, ...) and its verdict:
        ``"right"``, ``"wrong"``, ``"follows"`` (wrong only because an input to
        it is wrong) or ``"unread"`` (of the wrong shape or dtype, or not finite,
        on some inputs).
    """

    exercise: str
    ok: bool
    status: str
    messages: list = field(default_factory=list)
    parts: dict = field(default_factory=dict)

    def __str__(self):
        return "\n".join(self.messages)

    def __repr__(self):
        return f"CheckResult(exercise={self.exercise!r}, ok={self.ok}, status={self.status!r})"


# --------------------------------------------------------------------------- probes


@dataclass
class _Probe:
    label: str
    B: int
    D: int
    H: int
    args: tuple  # what the learner's function is called with
    params: tuple  # the forward step's inputs (for the backward: those that made the cache)
    numerical: bool = False

    @property
    def shape(self):
        return f"(B, D, H) = ({self.B}, {self.D}, {self.H})"


# Shapes of the random inputs: B = 1 first (dz is read from grads["b"] there),
# one with D == H (so that Wx used for Wh still runs and can be named), then batches.
_RANDOM_SHAPES = ((1, 3, 2, 11), (1, 2, 3, 12), (1, 3, 3, 13), (2, 3, 4, 14), (3, 5, 2, 15), (4, 1, 3, 16))
_NUMERICAL_SHAPE = (2, 3, 4, 14)  # the batch on which the backward is also compared with central differences


def _lstm_params(rng, B, D, H):
    x, h_prev, c_prev = rng.standard_normal((B, D)), 0.5 * rng.standard_normal((B, H)), rng.standard_normal((B, H))
    Wx, Wh, b = (0.5 * rng.standard_normal(s) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    return x, h_prev, c_prev, Wx, Wh, b


def _gru_params(rng, B, D, H):
    x, h_prev = rng.standard_normal((B, D)), 0.5 * rng.standard_normal((B, H))
    Wx, Wh, bx, bh = (0.5 * rng.standard_normal(s) for s in ((D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,)))
    return x, h_prev, Wx, Wh, bx, bh


def fixed_inputs(exercise):
    """The small fixed input of an exercise (B = 1, D = 2, H = 1), as a dict of arrays.

    Its numbers are chosen to be followed by hand: for the LSTM,
    z = x Wx + h_prev Wh + b = [1, 2, 0, 0.5], so i = sigma(1), f = sigma(2),
    o = sigma(0) = 0.5, g = tanh(0.5); for the GRU a = [0.5, 0, 0.5] and
    u = [0.5, 0, 0.5], so r = sigma(1), z = 0.5, n = tanh(0.5 + 0.5 r).
    The backward exercises add ``dh`` (and ``dc_next``) and take the ``cache``
    of the reference forward step on these inputs.

    Parameters
    ----------
    exercise : str
        ``"lstm_forward"``, ``"lstm_backward"``, ``"gru_forward"`` or ``"gru_backward"``.
    """
    x, h_prev = np.array([[1.0, 2.0]]), np.array([[0.5]])
    if exercise.startswith("lstm"):
        forward = {
            "x": x,
            "h_prev": h_prev,
            "c_prev": np.array([[1.0]]),
            "Wx": np.array([[0.5, 0.0, 1.0, 0.5], [0.0, 0.5, -0.5, 0.0]]),
            "Wh": np.array([[1.0, 0.0, 0.0, -1.0]]),
            "b": np.array([0.0, 1.0, 0.0, 0.5]),
        }
        if exercise == "lstm_forward":
            return forward
        if exercise == "lstm_backward":
            _, _, cache = lstm_cell.step_forward(*forward.values())
            return {"dh": np.array([[1.0]]), "dc_next": np.array([[0.5]]), "cache": cache}
    if exercise.startswith("gru"):
        forward = {
            "x": x,
            "h_prev": h_prev,
            "Wx": np.array([[0.5, 0.0, 1.0], [0.0, 0.5, -0.5]]),
            "Wh": np.array([[1.0, 0.0, 2.0]]),
            "bx": np.array([0.0, -1.0, 0.5]),
            "bh": np.array([0.0, 0.0, -0.5]),
        }
        if exercise == "gru_forward":
            return forward
        if exercise == "gru_backward":
            _, cache = gru_cell.step_forward(*forward.values())
            return {"dh": np.array([[1.0]]), "cache": cache}
    raise ValueError(f"exercise must be one of {sorted(_EXERCISES)}; got {exercise!r}")


def _probes(exercise):
    fixed = tuple(fixed_inputs(exercise).values())
    fixed_params = tuple(fixed_inputs(exercise.replace("backward", "forward")).values())
    probes = [_Probe("the small fixed input", 1, 2, 1, fixed, fixed_params)]
    for B, D, H, seed in _RANDOM_SHAPES:
        rng = np.random.default_rng(seed)
        if exercise.startswith("lstm"):
            params = _lstm_params(rng, B, D, H)
            if exercise == "lstm_forward":
                args = params
            else:
                _, _, cache = lstm_cell.step_forward(*params)
                args = (rng.standard_normal((B, H)), rng.standard_normal((B, H)), cache)
        else:
            params = _gru_params(rng, B, D, H)
            if exercise == "gru_forward":
                args = params
            else:
                _, cache = gru_cell.step_forward(*params)
                args = (rng.standard_normal((B, H)), cache)
        numerical = exercise.endswith("backward") and (B, D, H, seed) == _NUMERICAL_SHAPE
        probes.append(_Probe(f"random (B, D, H) = ({B}, {D}, {H})", B, D, H, args, params, numerical))
    return probes


# --------------------------------------------------------------------------- reading what the learner returned


class _Unreadable(Exception):
    """The whole return value has the wrong structure."""


def _as_sequence(out, n, names):
    if not isinstance(out, (tuple, list)):
        raise _Unreadable(f"returned a {type(out).__name__}; expected a tuple of {n}: {names}")
    if len(out) != n:
        raise _Unreadable(f"returned a tuple of {len(out)}; expected {n}: {names}")
    return out


def _array(value, name, shape, symbolic, problems, part=None):
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
        return None
    if a.dtype != np.float64:
        problems[part] = f"{name} has dtype {a.dtype}; expected float64, the dtype of the inputs"
        return None
    if not np.all(np.isfinite(a)):
        problems[part] = f"{name} contains NaN or inf"
        return None
    return a


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and relative_error(a, b) <= TOLERANCE


def _check_passthrough(cache, expected, names, problems):
    """The cache entries that are the inputs must be the inputs."""
    for k, (name, value) in enumerate(zip(names, expected)):
        if value is None:
            continue
        got = cache[k]
        try:
            same = np.asarray(got).shape == np.shape(value) and np.array_equal(np.asarray(got), value)
        except Exception:  # noqa: BLE001
            same = False
        if not same:
            problems["cache"] = (
                f"cache entry {k} ({name}) is not the input {name}; the cache is ({', '.join(names)}), in this order"
            )
            return


def _read_lstm_forward(out, p):
    B, H = p.B, p.H
    parts, problems = {}, {}
    h, c, cache = _as_sequence(out, 3, "h, c, cache")
    parts["h"] = _array(h, "h", (B, H), "(B, H)", problems)
    parts["c"] = _array(c, "c", (B, H), "(B, H)", problems)
    names = ("x", "h_prev", "c_prev", "Wx", "Wh", "i", "f", "o", "g", "c")
    if not isinstance(cache, (tuple, list)) or len(cache) != 10:
        n = len(cache) if isinstance(cache, (tuple, list)) else type(cache).__name__
        problems["cache"] = f"cache is {n!s} long; expected a tuple of 10: ({', '.join(names)})"
        for gate in "ifog":
            problems.setdefault(gate, f"{gate} not read: the cache has the wrong structure")
    else:
        _check_passthrough(cache, p.args[:5], names, problems)
        for k, gate in zip(range(5, 9), "ifog"):
            parts[gate] = _array(cache[k], f"cache entry {k} ({gate})", (B, H), "(B, H)", problems, part=gate)
        cache_c = _array(cache[9], "cache entry 9 (c)", (B, H), "(B, H)", problems, part="cache")
        if cache_c is not None and parts["c"] is not None and not np.array_equal(cache_c, parts["c"]):
            problems["cache"] = "cache entry 9 (c) is not the c that the function returns"
    return parts, problems


def _read_lstm_backward(out, p):
    B, D, H = p.B, p.D, p.H
    parts, problems = {}, {}
    dx, dh_prev, dc_prev, grads = _as_sequence(out, 4, "dx, dh_prev, dc_prev, grads")
    parts["dx"] = _array(dx, "dx", (B, D), "(B, D)", problems)
    parts["dh_prev"] = _array(dh_prev, "dh_prev", (B, H), "(B, H)", problems)
    parts["dc_prev"] = _array(dc_prev, "dc_prev", (B, H), "(B, H)", problems)
    if not isinstance(grads, dict) or set(grads) != {"Wx", "Wh", "b"}:
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise _Unreadable(f'grads is {keys}; expected a dict with the keys "Wx", "Wh", "b"')
    parts["dWx"] = _array(grads["Wx"], 'grads["Wx"]', (D, 4 * H), "(D, 4H)", problems, part="dWx")
    parts["dWh"] = _array(grads["Wh"], 'grads["Wh"]', (H, 4 * H), "(H, 4H)", problems, part="dWh")
    db = _array(grads["b"], 'grads["b"]', (4 * H,), "(4H,)", problems, part="db")
    if B == 1:  # grads["b"] is dz itself: read it gate by gate
        if db is None:
            problems.update({f"dz_{k}": f'dz_{k} not read: grads["b"] has the wrong form' for k in "ifog"})
        else:
            for k, gate in enumerate("ifog"):
                parts[f"dz_{gate}"] = db[k * H : (k + 1) * H].reshape(1, H)
    else:
        parts["db"] = db
    return parts, problems


def _read_gru_forward(out, p):
    B, H = p.B, p.H
    parts, problems = {}, {}
    h, cache = _as_sequence(out, 2, "h, cache")
    parts["h"] = _array(h, "h", (B, H), "(B, H)", problems)
    names = ("x", "h_prev", "Wx", "Wh", "r", "z", "n", "u_n")
    if not isinstance(cache, (tuple, list)) or len(cache) != 8:
        n = len(cache) if isinstance(cache, (tuple, list)) else type(cache).__name__
        problems["cache"] = f"cache is {n!s} long; expected a tuple of 8: ({', '.join(names)})"
        for k in ("r", "z", "n", "u_n"):
            problems.setdefault(k, f"{k} not read: the cache has the wrong structure")
    else:
        _check_passthrough(cache, p.args[:4], names, problems)
        for k, name in zip(range(4, 8), ("r", "z", "n", "u_n")):
            parts[name] = _array(cache[k], f"cache entry {k} ({name})", (B, H), "(B, H)", problems, part=name)
    return parts, problems


def _read_gru_backward(out, p):
    B, D, H = p.B, p.D, p.H
    parts, problems = {}, {}
    dx, dh_prev, grads = _as_sequence(out, 3, "dx, dh_prev, grads")
    parts["dx"] = _array(dx, "dx", (B, D), "(B, D)", problems)
    parts["dh_prev"] = _array(dh_prev, "dh_prev", (B, H), "(B, H)", problems)
    if not isinstance(grads, dict) or set(grads) != {"Wx", "Wh", "bx", "bh"}:
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise _Unreadable(f'grads is {keys}; expected a dict with the keys "Wx", "Wh", "bx", "bh"')
    parts["dWx"] = _array(grads["Wx"], 'grads["Wx"]', (D, 3 * H), "(D, 3H)", problems, part="dWx")
    parts["dWh"] = _array(grads["Wh"], 'grads["Wh"]', (H, 3 * H), "(H, 3H)", problems, part="dWh")
    for key, vec in (("bx", "da"), ("bh", "du")):
        db = _array(grads[key], f'grads["{key}"]', (3 * H,), "(3H,)", problems, part=f"d{key}")
        if B == 1:  # grads["bx"] is da and grads["bh"] is du
            if db is None:
                problems.update({f"{vec}_{g}": f'{vec}_{g} not read: grads["{key}"] has the wrong form' for g in "rzn"})
            else:
                for k, gate in enumerate("rzn"):
                    parts[f"{vec}_{gate}"] = db[k * H : (k + 1) * H].reshape(1, H)
                problems.pop(f"d{key}", None)
        else:
            parts[f"d{key}"] = db
    return parts, problems


# --------------------------------------------------------------------------- the reference, with known mistakes
# Each model computes every part of the reference step; each name in `m` swaps
# one line for a known mistake. `yours` holds the learner's values of the parts
# upstream of the one being judged, so that a part is judged on its own line.


def _ds(s):  # sigma'(z) from the stored s = sigma(z)
    return s * (1 - s)


def _dt(t):  # tanh'(z) from the stored t = tanh(z)
    return 1 - t**2


def _blocks(v, H, n):
    return [v[:, k * H : (k + 1) * H] for k in range(n)]


def _untransposed_blocks(d, W, H, n):
    """sum_k d_k @ W_k with W_k = W[:, kH:(k+1)H], no transpose (runs only where W_k is square)."""
    return sum(dk @ Wk for dk, Wk in zip(_blocks(d, H, n), _blocks(W, H, n)))


def _lstm_forward_model(p, m, yours):
    x, h_prev, c_prev, Wx, Wh, b = p.args
    H = h_prev.shape[1]
    z = x @ Wx
    if "z_no_h" not in m:
        z = z + (c_prev if "z_c_prev" in m else h_prev) @ (Wx if "z_Wx_for_Wh" in m else Wh)
    if "z_no_b" not in m:
        z = z + b
    z_i, z_f, z_o, z_g = _blocks(z, H, 4)
    if "order_ifgo" in m:
        z_o, z_g = z_g, z_o
    sig = (lambda v: sigmoid(-v)) if "sigmoid_sign" in m else sigmoid
    i = (np.tanh if "i_tanh" in m else sig)(z_i)
    f = (np.tanh if "f_tanh" in m else sig)(z_f)
    o = (np.tanh if "o_tanh" in m else sig)(z_o)
    g = (sigmoid if "g_sigmoid" in m else np.tanh)(z_g)
    i, f, o, g = (yours.get(k, v) for k, v in zip("ifog", (i, f, o, g)))
    c = (0 if "c_no_forget" in m else f * c_prev) + (g if "c_no_input" in m else i * g)
    c = yours.get("c", c)
    if "h_article" in m:
        h = f * h_prev + i * g
    else:
        h = (1 if "h_no_o" in m else o) * (c if "h_no_tanh" in m else np.tanh(c_prev if "h_c_prev" in m else c))
    return {"i": i, "f": f, "o": o, "g": g, "c": c, "h": h}


def _lstm_backward_model(p, m, yours):
    dh, dc_next, cache = p.args
    x, h_prev, c_prev, Wx, Wh, i, f, o, g, c = cache
    B, H = h_prev.shape
    tanh_c = np.tanh(c)
    do = dh * (1.0 if "do_no_tanh" in m else c if "do_c" in m else tanh_c)
    dc_h = dh * (1.0 if "dc_no_o" in m else o) * (1.0 if "dc_no_tanh_deriv" in m else 1 - tanh_c**2)
    dc = (0.0 if "dc_no_next" in m else dc_next) + (0.0 if "dc_no_h" in m else dc_h) + np.zeros_like(dh)
    di = dc * (i if "di_dg_swapped" in m else g)
    dg = dc * (g if "di_dg_swapped" in m else i)
    df = dc * (c if "df_c" in m else c_prev)
    if "dc_prev_no_f" in m:
        dc_prev = dc
    elif "dc_prev_zero" in m:
        dc_prev = np.zeros_like(dc)
    elif "dc_prev_next" in m:
        dc_prev = dc_next * f
    else:
        dc_prev = dc * f
    ds = (lambda s: sigmoid(s) * (1 - sigmoid(s))) if "sig_deriv_of_output" in m else _ds
    dz_i = di * (_dt(i) if "i_tanh_deriv" in m else ds(i))
    dz_f = df * (_dt(f) if "f_tanh_deriv" in m else ds(f))
    dz_o = do * (_dt(o) if "o_tanh_deriv" in m else ds(o))
    dz_g = dg * (_ds(g) if "g_sigmoid_deriv" in m else 1 - np.tanh(g) ** 2 if "g_deriv_of_output" in m else _dt(g))
    if "dz_order_ifgo" in m:
        dz_o, dz_g = dz_g, dz_o
    blocks = [yours.get(k, v) for k, v in zip(("dz_i", "dz_f", "dz_o", "dz_g"), (dz_i, dz_f, dz_o, dz_g))]
    dz = np.concatenate(blocks, axis=1)
    D = x.shape[1]
    if "dx_reshape" in m:
        dx = dz @ Wx.reshape(4 * H, D)
    elif "dx_Wh" in m:
        dx = dz @ Wh.T
    elif "dx_blocks" in m:
        dx = _untransposed_blocks(dz, Wx, H, 4)
    else:
        dx = dz @ Wx.T
    if "dh_blocks" in m:
        dh_prev = _untransposed_blocks(dz, Wh, H, 4)
    elif "dh_reshape" in m:
        dh_prev = dz @ Wh.reshape(4 * H, H)
    elif "dh_Wx" in m:
        dh_prev = dz @ Wx.T
    else:
        dh_prev = dz @ Wh.T
    dWx = (h_prev if "dWx_h" in m else x).T @ dz
    dWh = (x if "dWh_x" in m else c_prev if "dWh_c_prev" in m else h_prev).T @ dz
    db = dz.mean(axis=0) if "db_mean" in m else dz.sum(axis=0)
    return {
        "dz_i": blocks[0], "dz_f": blocks[1], "dz_o": blocks[2], "dz_g": blocks[3],
        "dc_prev": dc_prev, "dx": dx, "dh_prev": dh_prev, "dWx": dWx, "dWh": dWh, "db": db,
    }  # fmt: skip


def _gru_forward_model(p, m, yours):
    x, h_prev, Wx, Wh, bx, bh = p.args
    H = h_prev.shape[1]
    a = x @ Wx + (0 if "no_bx" in m else bx)
    u = h_prev @ Wh + (0 if "no_bh" in m else bh)
    a_r, a_z, a_n = _blocks(a, H, 3)
    u_r, u_z, u_n = _blocks(u, H, 3)
    if "order_zrn" in m:
        a_r, a_z, u_r, u_z = a_z, a_r, u_z, u_r
    sig = (lambda v: sigmoid(-v)) if "sigmoid_sign" in m else sigmoid
    r = (np.tanh if "r_tanh" in m else sig)(a_r + u_r)
    z = (np.tanh if "z_tanh" in m else sig)(a_z + u_z)
    r, z, u_n = yours.get("r", r), yours.get("z", z), yours.get("u_n", u_n)
    act = sigmoid if "n_sigmoid" in m else np.tanh
    if "n_reset_before" in m:
        n = act(a_n + (r * h_prev) @ _blocks(Wh, H, 3)[2] + (0 if "no_bh" in m else bh[2 * H :]))
    elif "n_reset_no_bias" in m:
        n = act(a_n + r * (u_n - bh[2 * H :]) + bh[2 * H :])
    elif "n_no_reset" in m:
        n = act(a_n + u_n)
    else:
        n = act(a_n + r * u_n)
    n = yours.get("n", n)
    if "h_z_swapped" in m:
        h = z * n + (1 - z) * h_prev
    elif "h_no_skip" in m:
        h = (1 - z) * n
    else:
        h = (1 - z) * n + z * h_prev
    return {"r": r, "z": z, "n": n, "u_n": u_n, "h": h}


def _gru_backward_model(p, m, yours):
    dh, cache = p.args
    bh = p.params[5]
    x, h_prev, Wx, Wh, r, z, n, u_n = cache
    B, H = h_prev.shape
    D = x.shape[1]
    dn = dh * (z if "dn_z" in m else 1 - z)
    dz = dh * (n - h_prev if "dz_sign" in m else h_prev - n)
    dh_skip = 0.0 if "no_skip" in m else dh * (1 - z) if "skip_1mz" in m else dh * z
    if "dn_sigmoid_deriv" in m:
        da_n = dn * _ds(n)
    elif "dn_deriv_of_output" in m:
        da_n = dn * (1 - np.tanh(n) ** 2)
    else:
        da_n = dn * _dt(n)
    dr = da_n * (u_n - bh[2 * H :] if "dr_no_bias" in m else u_n)
    du_n = da_n * (1.0 if "du_n_no_r" in m else r)
    ds = (lambda s: sigmoid(s) * (1 - sigmoid(s))) if "sig_deriv_of_output" in m else _ds
    da_r = dr * (_dt(r) if "r_tanh_deriv" in m else ds(r))
    da_z = dz * (_dt(z) if "z_tanh_deriv" in m else ds(z))
    if "da_order_zrn" in m:
        da_r, da_z = da_z, da_r
    du_r, du_z = (np.zeros_like(da_r), np.zeros_like(da_z)) if "du_rz_zero" in m else (da_r, da_z)
    a_parts = [yours.get(k, v) for k, v in zip(("da_r", "da_z", "da_n"), (da_r, da_z, da_n))]
    u_parts = [yours.get(k, v) for k, v in zip(("du_r", "du_z", "du_n"), (du_r, du_z, du_n))]
    da, du = np.concatenate(a_parts, axis=1), np.concatenate(u_parts, axis=1)
    if "dx_du" in m:
        dx = du @ Wx.T
    elif "dx_reshape" in m:
        dx = da @ Wx.reshape(3 * H, D)
    elif "dx_Wh" in m:
        dx = da @ Wh.T
    else:
        dx = da @ Wx.T
    if "dh_blocks" in m:
        dh_prev = _untransposed_blocks(du, Wh, H, 3)
    elif "dh_reshape" in m:
        dh_prev = du @ Wh.reshape(3 * H, H)
    elif "dh_da" in m:
        dh_prev = da @ Wh.T
    elif "dh_Wx" in m:
        dh_prev = du @ Wx.T
    else:
        dh_prev = du @ Wh.T
    dh_prev = dh_prev + dh_skip
    dWx = x.T @ (du if "dWx_du" in m else da)
    dWh = h_prev.T @ (da if "dWh_da" in m else du)
    reduce = (lambda v: v.mean(axis=0)) if "db_mean" in m else (lambda v: v.sum(axis=0))
    return {
        "da_r": a_parts[0], "da_z": a_parts[1], "da_n": a_parts[2],
        "du_r": u_parts[0], "du_z": u_parts[1], "du_n": u_parts[2],
        "dx": dx, "dh_prev": dh_prev, "dWx": dWx, "dWh": dWh, "dbx": reduce(da), "dbh": reduce(du),
    }  # fmt: skip


# --------------------------------------------------------------------------- the mistakes, in words

_LSTM_FORWARD_MISTAKES = {
    "order_ifgo": "o and g were read from z in the order i, f, g, o (PyTorch's and Keras's); here the order is "
    "i, f, o, g: o = sigma(z[:, 2H:3H]), g = tanh(z[:, 3H:4H])",
    "g_sigmoid": "g went through sigma; the candidate is g = tanh(z_g), in (-1, 1), so that c can decrease",
    "i_tanh": "i went through tanh; the gates are sigmoids: i = sigma(z_i), in (0, 1)",
    "f_tanh": "f went through tanh; the gates are sigmoids: f = sigma(z_f), in (0, 1)",
    "o_tanh": "o went through tanh; the gates are sigmoids: o = sigma(z_o), in (0, 1)",
    "sigmoid_sign": "the gates equal sigma(-z): sigma(z) = 1 / (1 + exp(-z)), a minus sign was lost",
    "z_no_b": "z is missing the bias: z = x Wx + h_prev Wh + b",
    "z_no_h": "z is missing the recurrent term: z = x Wx + h_prev Wh + b",
    "z_c_prev": "z used c_prev where h_prev belongs: z = x Wx + h_prev Wh + b",
    "z_Wx_for_Wh": "z used Wx where Wh belongs: z = x Wx + h_prev Wh + b",
    "c_no_forget": "c is missing the forget path f * c_prev: c = f * c_prev + i * g",
    "c_no_input": "c is missing the input gate: c = f * c_prev + i * g",
    "h_no_tanh": "h is missing tanh on c: h = o * tanh(c)",
    "h_c_prev": "h used the previous cell state c_prev; h = o * tanh(c) takes the new c (one step off)",
    "h_no_o": "h is missing the output gate: h = o * tanh(c)",
    "h_article": "h = f * h_prev + i * g is the recurrence without a cell state; the LSTM has "
    "c = f * c_prev + i * g and h = o * tanh(c)",
}

_LSTM_BACKWARD_MISTAKES = {
    "dc_no_next": "dc is missing dc_next, the gradient from the next step's cell: "
    "dc = dc_next + dh * o * (1 - tanh(c)^2)",
    "dc_no_h": "dc is missing the path through h: dc = dc_next + dh * o * (1 - tanh(c)^2)",
    "dc_no_tanh_deriv": "dc: the path through h is missing tanh' = 1 - tanh(c)^2: "
    "dc = dc_next + dh * o * (1 - tanh(c)^2)",
    "dc_no_o": "dc: the path through h is missing the factor o: dc = dc_next + dh * o * (1 - tanh(c)^2)",
    "do_no_tanh": "tanh(c) is missing from dz_o: h = o * tanh(c) gives do = dh * tanh(c), then dz_o = do * o * (1 - o)",
    "do_c": "dz_o used c where tanh(c) belongs: h = o * tanh(c) gives do = dh * tanh(c)",
    "di_dg_swapped": "di and dg are swapped: c = f * c_prev + i * g gives di = dc * g and dg = dc * i",
    "df_c": "dz_f used this step's c where c_prev belongs (one step off): df = dc * c_prev",
    "dc_prev_no_f": "dc_prev is missing the forget-gate path: c = f * c_prev + i * g, so dc_prev = dc * f "
    "(it came out as dc, without the factor f)",
    "dc_prev_zero": "dc_prev is zero: the forget-gate path carries the gradient back to the previous cell, "
    "dc_prev = dc * f",
    "dc_prev_next": "dc_prev used dc_next alone; the whole dc = dc_next + dh * o * (1 - tanh(c)^2) flows back "
    "through the forget gate: dc_prev = dc * f",
    "i_tanh_deriv": "dz_i used the tanh derivative 1 - i^2; i = sigma(z_i) needs i * (1 - i)",
    "f_tanh_deriv": "dz_f used the tanh derivative 1 - f^2; f = sigma(z_f) needs f * (1 - f)",
    "o_tanh_deriv": "dz_o used the tanh derivative 1 - o^2; o = sigma(z_o) needs o * (1 - o)",
    "g_sigmoid_deriv": "dz_g: the sigmoid derivative g * (1 - g) was applied to g; g = tanh(z_g) needs 1 - g^2",
    "sig_deriv_of_output": "the sigmoid derivative was taken of the stored gate as if it were z: "
    "sigma(i) * (1 - sigma(i)); "
    "with the stored i = sigma(z_i) it is i * (1 - i) (the same for f and o)",
    "g_deriv_of_output": "dz_g: 1 - tanh(g)^2 applies tanh to g a second time; with the stored g = tanh(z_g) "
    "the derivative is 1 - g^2",
    "dz_order_ifgo": "dz was put together in the order i, f, g, o; it must follow Wx, Wh and b: i, f, o, g",
    "dx_reshape": "dx: Wx was reshaped to (4H, D), not transposed (reshape keeps the memory order): dx = dz @ Wx.T",
    "dx_Wh": "dx used Wh where Wx belongs: dx = dz Wx^T",
    "dx_blocks": "dx: looks like Wx was not transposed (each gate's block Wx_k is (D, H)): dx = dz Wx^T",
    "dh_blocks": "dh_prev: looks like Wh was not transposed: each gate's block Wh_k = Wh[:, kH:(k+1)H] is (H, H), "
    "so dz_k @ Wh_k runs but is wrong; dh_prev = dz Wh^T = sum over k of dz_k Wh_k^T",
    "dh_reshape": "dh_prev: Wh was reshaped to (4H, H), not transposed (reshape keeps the memory order): "
    "dh_prev = dz @ Wh.T",
    "dh_Wx": "dh_prev used Wx where Wh belongs: dh_prev = dz Wh^T",
    "dWx_h": "dWx used h_prev where x belongs: dWx = x^T dz",
    "dWh_x": "dWh used x where h_prev belongs: dWh = h_prev^T dz",
    "dWh_c_prev": "dWh used c_prev where h_prev belongs: dWh = h_prev^T dz",
    "db_mean": "db is the mean over the batch; the loss adds the rows, so db = dz.sum(axis=0)",
}

_GRU_FORWARD_MISTAKES = {
    "order_zrn": "r and z were read in the order z, r, n; here (as in PyTorch) the blocks are r, z, n",
    "r_tanh": "r went through tanh; the gates are sigmoids: r = sigma(a_r + u_r)",
    "z_tanh": "z went through tanh; the gates are sigmoids: z = sigma(a_z + u_z)",
    "sigmoid_sign": "the gates equal sigma(-(a + u)): sigma(v) = 1 / (1 + exp(-v)), a minus sign was lost",
    "n_sigmoid": "n went through sigma; the candidate is n = tanh(a_n + r * u_n)",
    "n_reset_before": "n: the reset gate was applied to h_prev before the product, "
    "tanh(a_n + (r * h_prev) Wh_n + bh_n) "
    "(Cho et al.'s form); here, as in PyTorch, r multiplies the whole recurrent term: "
    "n = tanh(a_n + r * (h_prev Wh_n + bh_n))",
    "n_reset_no_bias": "n: r must multiply bh_n too: n = tanh(a_n + r * u_n) with u_n = h_prev Wh_n + bh_n",
    "n_no_reset": "n is missing the reset gate: n = tanh(a_n + r * u_n)",
    "no_bx": "the input bias bx is missing: a = x Wx + bx",
    "no_bh": "the recurrent bias bh is missing: u = h_prev Wh + bh",
    "h_z_swapped": "h: z and 1 - z are swapped; here (as in PyTorch) h = (1 - z) * n + z * h_prev, "
    "so z near 1 keeps the old state",
    "h_no_skip": "h is missing z * h_prev: h = (1 - z) * n + z * h_prev",
}

_GRU_BACKWARD_MISTAKES = {
    "dz_sign": "da_z: the sign of dz is flipped: h = (1 - z) * n + z * h_prev gives dz = dh * (h_prev - n), "
    "not dh * (n - h_prev)",
    "dn_z": "dn used z where 1 - z belongs: h = (1 - z) * n + z * h_prev gives dn = dh * (1 - z)",
    "dn_sigmoid_deriv": "da_n: the sigmoid derivative n * (1 - n) was applied to n; n = tanh(...) needs 1 - n^2",
    "dn_deriv_of_output": "da_n: 1 - tanh(n)^2 applies tanh to n a second time; "
    "with the stored n the derivative is 1 - n^2",
    "dr_no_bias": "da_r: dr used h_prev Wh_n without bh_n; n = tanh(a_n + r * u_n) with u_n = h_prev Wh_n + bh_n "
    "gives dr = da_n * u_n",
    "du_n_no_r": "du_n is missing the factor r: n = tanh(a_n + r * u_n) gives du_n = da_n * r",
    "r_tanh_deriv": "da_r used the tanh derivative 1 - r^2; r = sigma(...) needs r * (1 - r)",
    "z_tanh_deriv": "da_z used the tanh derivative 1 - z^2; z = sigma(...) needs z * (1 - z)",
    "sig_deriv_of_output": "the sigmoid derivative was taken of the stored gate as if it were its input: "
    "sigma(r) * (1 - sigma(r)); with the stored r it is r * (1 - r) (the same for z)",
    "da_order_zrn": "da was put together in the order z, r, n; it must follow Wx and bx: r, z, n",
    "du_rz_zero": "du: its r and z blocks are da_r and da_z (r and z see a + u, so the same gradient reaches both); "
    "they came out zero",
    "no_skip": "dh_prev is missing the direct path dh * z: h = (1 - z) * n + z * h_prev, so dh_prev = du Wh^T + dh * z",
    "skip_1mz": "dh_prev: the direct path is dh * z, not dh * (1 - z): h = (1 - z) * n + z * h_prev",
    "dh_blocks": "dh_prev: looks like Wh was not transposed: each gate's block Wh_k is (H, H), so du_k @ Wh_k runs "
    "but is wrong; dh_prev = du Wh^T + dh * z",
    "dh_reshape": "dh_prev: Wh was reshaped to (3H, H), not transposed (reshape keeps the memory order): "
    "dh_prev = du @ Wh.T + dh * z",
    "dh_da": "dh_prev used da where du belongs: dh_prev = du Wh^T + dh * z (du_n = da_n * r)",
    "dh_Wx": "dh_prev used Wx where Wh belongs: dh_prev = du Wh^T + dh * z",
    "dx_du": "dx used du where da belongs: dx = da Wx^T",
    "dx_reshape": "dx: Wx was reshaped to (3H, D), not transposed (reshape keeps the memory order): dx = da @ Wx.T",
    "dx_Wh": "dx used Wh where Wx belongs: dx = da Wx^T",
    "dWx_du": "dWx used du where da belongs: dWx = x^T da",
    "dWh_da": "dWh used da where du belongs: dWh = h_prev^T du",
    "db_mean": "the bias gradients are means over the batch; the loss adds the rows, so dbx = da.sum(axis=0), "
    "dbh = du.sum(axis=0)",
}

_LSTM_FORWARD_HINTS = {
    "i": "i = sigma(z_i) with z = x Wx + h_prev Wh + b, z_i = z[:, 0:H]",
    "f": "f = sigma(z_f), z_f = z[:, H:2H]",
    "o": "o = sigma(z_o), z_o = z[:, 2H:3H]",
    "g": "g = tanh(z_g), z_g = z[:, 3H:4H]",
    "c": "c = f * c_prev + i * g",
    "h": "h = o * tanh(c)",
}
_LSTM_BACKWARD_HINTS = {
    "dz_i": "dz_i = dc * g * i * (1 - i), dc = dc_next + dh * o * (1 - tanh(c)^2)",
    "dz_f": "dz_f = dc * c_prev * f * (1 - f)",
    "dz_o": "dz_o = dh * tanh(c) * o * (1 - o)",
    "dz_g": "dz_g = dc * i * (1 - g^2)",
    "dc_prev": "dc_prev = dc * f",
    "dx": "dx = dz Wx^T",
    "dh_prev": "dh_prev = dz Wh^T",
    "dWx": "dWx = x^T dz",
    "dWh": "dWh = h_prev^T dz",
    "db": "db = dz summed over the batch",
}
_GRU_FORWARD_HINTS = {
    "r": "r = sigma(a_r + u_r) with a = x Wx + bx, u = h_prev Wh + bh",
    "z": "z = sigma(a_z + u_z)",
    "n": "n = tanh(a_n + r * u_n)",
    "u_n": "u_n = (h_prev Wh + bh)[:, 2H:3H]",
    "h": "h = (1 - z) * n + z * h_prev",
}
_GRU_BACKWARD_HINTS = {
    "da_r": "da_r = dr * r * (1 - r), dr = da_n * u_n",
    "da_z": "da_z = dz * z * (1 - z), dz = dh * (h_prev - n)",
    "da_n": "da_n = dn * (1 - n^2), dn = dh * (1 - z)",
    "du_r": "du_r = da_r",
    "du_z": "du_z = da_z",
    "du_n": "du_n = da_n * r",
    "dx": "dx = da Wx^T",
    "dh_prev": "dh_prev = du Wh^T + dh * z",
    "dWx": "dWx = x^T da",
    "dWh": "dWh = h_prev^T du",
    "dbx": "dbx = da summed over the batch",
    "dbh": "dbh = du summed over the batch",
}


# --------------------------------------------------------------------------- the exercises


@dataclass
class _Exercise:
    key: str
    title: str
    signature: str
    arg_names: tuple
    parts: tuple  # display order
    upstream: dict  # part -> the parts it is computed from
    model: object
    read: object
    mistakes: dict
    hints: dict
    loss: object = None  # backward: (probe) -> (loss_fn, {part: array to differentiate})
    cache: tuple = ()  # forward: the names of the cache entries, in order


def _lstm_numerical(p):
    dh, dc_next, _ = p.args
    x, h_prev, c_prev, Wx, Wh, b = (a.copy() for a in p.params)

    def loss():
        h, c, _ = lstm_cell.step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return np.sum(h * dh) + np.sum(c * dc_next)

    return loss, {"dx": x, "dh_prev": h_prev, "dc_prev": c_prev, "dWx": Wx, "dWh": Wh, "db": b}


def _gru_numerical(p):
    dh, _ = p.args
    x, h_prev, Wx, Wh, bx, bh = (a.copy() for a in p.params)

    def loss():
        return np.sum(gru_cell.step_forward(x, h_prev, Wx, Wh, bx, bh)[0] * dh)

    return loss, {"dx": x, "dh_prev": h_prev, "dWx": Wx, "dWh": Wh, "dbx": bx, "dbh": bh}


_DZ = ("dz_i", "dz_f", "dz_o", "dz_g")
_DA, _DU = ("da_r", "da_z", "da_n"), ("du_r", "du_z", "du_n")

_EXERCISES = {
    "lstm_forward": _Exercise(
        "lstm_forward",
        "LSTM step forward",
        "step_forward(x, h_prev, c_prev, Wx, Wh, b) -> h, c, cache",
        ("x", "h_prev", "c_prev", "Wx", "Wh", "b"),
        ("i", "f", "o", "g", "c", "h", "cache"),
        {"c": ("i", "f", "g"), "h": ("o", "c")},
        _lstm_forward_model,
        _read_lstm_forward,
        _LSTM_FORWARD_MISTAKES,
        _LSTM_FORWARD_HINTS,
        cache=("x", "h_prev", "c_prev", "Wx", "Wh", "i", "f", "o", "g", "c"),
    ),
    "lstm_backward": _Exercise(
        "lstm_backward",
        "LSTM step backward",
        "step_backward(dh, dc_next, cache) -> dx, dh_prev, dc_prev, grads",
        ("dh", "dc_next", "cache"),
        ("dz_i", "dz_f", "dz_o", "dz_g", "dc_prev", "dx", "dh_prev", "dWx", "dWh", "db"),
        {k: _DZ for k in ("dx", "dh_prev", "dWx", "dWh", "db")},
        _lstm_backward_model,
        _read_lstm_backward,
        _LSTM_BACKWARD_MISTAKES,
        _LSTM_BACKWARD_HINTS,
        _lstm_numerical,
    ),
    "gru_forward": _Exercise(
        "gru_forward",
        "GRU step forward",
        "step_forward(x, h_prev, Wx, Wh, bx, bh) -> h, cache",
        ("x", "h_prev", "Wx", "Wh", "bx", "bh"),
        ("r", "z", "u_n", "n", "h", "cache"),
        {"n": ("r", "u_n"), "h": ("z", "n")},
        _gru_forward_model,
        _read_gru_forward,
        _GRU_FORWARD_MISTAKES,
        _GRU_FORWARD_HINTS,
        cache=("x", "h_prev", "Wx", "Wh", "r", "z", "n", "u_n"),
    ),
    "gru_backward": _Exercise(
        "gru_backward",
        "GRU step backward",
        "step_backward(dh, cache) -> dx, dh_prev, grads",
        ("dh", "cache"),
        ("da_r", "da_z", "da_n", "du_r", "du_z", "du_n", "dx", "dh_prev", "dWx", "dWh", "dbx", "dbh"),
        {"dx": _DA, "dWx": _DA, "dbx": _DA, "dh_prev": _DU, "dWh": _DU, "dbh": _DU},
        _gru_backward_model,
        _read_gru_backward,
        _GRU_BACKWARD_MISTAKES,
        _GRU_BACKWARD_HINTS,
        _gru_numerical,
    ),
}


# --------------------------------------------------------------------------- running a check


def _copy_args(args):
    return tuple(tuple(a.copy() for a in v) if isinstance(v, tuple) else v.copy() for v in args)


def _changed_inputs(before, after, names):
    changed = []
    for name, b, a in zip(names, before, after):
        if isinstance(b, tuple):
            changed += [f"cache entry {k}" for k, (bb, aa) in enumerate(zip(b, a)) if not np.array_equal(bb, aa)]
        elif not np.array_equal(b, a):
            changed.append(name)
    return changed


def _where(exc):
    """The line of the learner's code where ``exc`` was raised (no file names: they are local paths)."""
    numpy_dir = str(Path(np.__file__).resolve().parent)
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__)[1:]  # [0] is this module's call
        if not str(Path(f.filename).resolve()).startswith(numpy_dir)
    ]
    if not frames:
        return ""
    frame = frames[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    return f"in {frame.name}, at: {line}" if line else f"in {frame.name}"


def _display_upstream(parts):
    names = []
    for p in parts:
        name = p.split("_")[0] if p.startswith(("dz_", "da_", "du_")) else p
        if name not in names:
            names.append(name)
    return " and ".join(names)


def _fmt(a):
    text = np.array2string(np.asarray(a), precision=4, floatmode="maxprec", suppress_small=True, max_line_width=200)
    return " ".join(text.split())


def _check(key, fn, verbose=True):
    ex = _EXERCISES[key]
    name = f"check_{key}"
    result = _judge(ex, fn, name)
    if verbose:
        print(result)
    return result


def _judge(ex, fn, name):
    head = f"{name}: {ex.title}, {ex.signature}"
    if not callable(fn):
        return CheckResult(ex.key, False, "error", [f"{name}: expected your function; got a {type(fn).__name__}"])
    probes = _probes(ex.key)
    runs = []  # (probe, parts or None, problems)
    raised, structure, mutated = [], [], []
    for p in probes:
        given = _copy_args(p.args)
        try:
            out = fn(*given)
        except NotImplementedError:
            return CheckResult(
                ex.key,
                False,
                "not implemented",
                [f"{name}: not implemented yet. Your function raised NotImplementedError: fill in its body "
                 "(the equations are above it) and run the cell and this check again."],
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - every failure of the learner's code is reported in words
            raised.append((p, exc))
            runs.append((p, None, {}))
            continue
        if out is None and p is probes[0]:
            return CheckResult(
                ex.key,
                False,
                "not implemented",
                [f"{name}: not implemented yet. Your function returned None: fill in its body and end it with "
                 f"`return` ({ex.signature.split('-> ')[1]})."],
            )  # fmt: skip
        changed = _changed_inputs(p.args, given, ex.arg_names)
        if changed and not mutated:
            mutated = changed
        try:
            parts, problems = ex.read(out, p)
        except _Unreadable as exc:
            structure.append((p, str(exc)))
            runs.append((p, None, {}))
            continue
        runs.append((p, {k: v for k, v in parts.items() if v is not None}, problems))

    lines = []
    readable = [(p, parts) for p, parts, _ in runs if parts is not None]
    if raised:
        p, exc = raised[0]
        where = _where(exc)
        lines.append(
            f"Your function raised {type(exc).__name__} on {len(raised)} of {len(probes)} inputs, first on "
            f"{p.label}{'' if p.label.startswith('random') else f' {p.shape}'}: {exc}"
            + (f"\n    {where}" if where else "")
        )
        ran = [q for q, parts, _ in runs if parts is not None and q is not probes[0]]
        if ran and all(q.D == q.H for q in ran):
            lines.append("    It ran only where D == H: is Wx used where Wh belongs, or the reverse?")
    if structure:
        p, msg = structure[0]
        lines.append(f"Your function {msg} (on {p.label}).")
    if not readable:
        messages = [head, "  NOT YET: nothing could be checked."] + ["  " + s for s in lines]
        return CheckResult(ex.key, False, "error", messages)
    if mutated:
        lines.append(
            f"Your function changed its input {', '.join(mutated)} in place (e.g. `+=` on an argument): "
            "the caller still needs it. Work on a new array (`dc = dc_next + ...`)."
        )

    # Per part: right, wrong (with a named mistake), follows (from a wrong upstream), unread.
    refs = {id(p): ex.model(p, frozenset(), {}) for p, _ in readable}
    problem_msgs = {}
    for p, parts, problems in runs:
        if parts is None:
            continue
        for part, msg in problems.items():
            problem_msgs.setdefault(part, f"{msg} (on {p.label})")
    verdict, wrong_where = {}, {}
    for part in ex.parts:
        seen = [(p, parts) for p, parts in readable if part in parts]
        if not seen:
            verdict[part] = "unread" if part in problem_msgs else None
            continue
        bad = [(p, parts) for p, parts in seen if not _same(parts[part], refs[id(p)][part])]
        verdict[part] = "wrong" if bad else "unread" if part in problem_msgs else "right"
        if bad:
            wrong_where[part] = bad
    if "cache" in ex.parts:
        verdict["cache"] = "unread" if "cache" in problem_msgs else "right"
    verdict = {k: v for k, v in verdict.items() if v is not None}

    explain = {}
    found = []  # mistakes already named, tried first for the next part
    for part in ex.parts:
        if verdict.get(part) != "wrong":
            continue
        ups = ex.upstream.get(part, ())
        wrong_ups = [u for u in ups if verdict.get(u) in ("wrong", "unread")]
        # where the learner's upstream values can be read (B = 1 for dz), judge the part on them
        with_ups = [(p, parts) for p, parts in readable if part in parts and all(u in parts for u in ups)]
        if wrong_ups and with_ups:
            if all(_same(parts[part], ex.model(p, frozenset(), _yours(parts, ups))[part]) for p, parts in with_ups):
                verdict[part] = "follows"
                explain[part] = ("follows", _display_upstream(wrong_ups))
                continue
        usable = with_ups if wrong_ups else [(p, parts) for p, parts in readable if part in parts]
        right = [q for q, v in verdict.items() if v == "right" and q != "cache"]
        mistakes = _search(ex, part, usable, ups, found, right, pairs=False)
        stored = None if mistakes else _stored_as(ex, part, usable, refs)
        if stored is None and not mistakes:
            mistakes = _search(ex, part, usable, ups, found, right, pairs=True)
        if stored is not None:
            explain[part] = ("stored", stored)
        elif mistakes:
            found += [m for m in mistakes if m not in found]
            explain[part] = ("mistake", tuple(mistakes))
        elif wrong_ups:
            verdict[part] = "follows"
            explain[part] = ("follows?", _display_upstream(wrong_ups))
        else:
            explain[part] = ("unknown", None)

    # Words.
    n_bad = sum(v in ("wrong", "unread") for v in verdict.values())
    n_follow = sum(v == "follows" for v in verdict.values())
    ok = not lines and not problem_msgs and all(v == "right" for v in verdict.values()) and len(readable) == len(probes)
    if ok:
        summary = _pass_summary(ex, readable, refs)
        return CheckResult(ex.key, True, "passed", [f"{head}\n  PASSED: {summary}"], verdict)

    out = [head]
    if n_bad or n_follow:
        because = f" ({n_follow} only because of another part)" if n_follow else ""
        out.append(f"  NOT YET: {n_bad + n_follow} of {len(verdict)} parts wrong{because}.")
    else:
        out.append("  NOT YET.")
    out += ["  " + s for s in lines]
    out += [f"  {msg}" for msg in problem_msgs.values()]
    # wrong parts grouped by their explanation, in the order of the parts
    groups = {}
    for part in ex.parts:
        if verdict.get(part) in ("wrong", "follows"):
            groups.setdefault(explain[part], []).append(part)
    for (kind, detail), names in groups.items():
        label = ", ".join(names)
        if kind == "mistake":
            if len(detail) == 1:
                msg = ex.mistakes[detail[0]]
                first, _, rest = msg.partition(": ")
                if first in names:  # "dz_g: the sigmoid ..." under "dz_g: wrong"
                    out.append(f"  {label}: wrong: {rest}.")
                else:
                    out.append(f"  {label}: wrong. {msg}.")
            else:
                out.append(f"  {label}: wrong, looks like two mistakes:")
                out += [f"    - {ex.mistakes[m]}." for m in detail]
        elif kind == "follows":
            each = "each is" if len(names) > 1 else "it is"
            out.append(f"  {label}: wrong only because {detail} is wrong ({each} right for your {detail}).")
        elif kind == "stored":
            out.append(
                f"  {label}: wrong: the cache holds {detail} in the place of {label}; "
                f"the cache is ({', '.join(ex.cache)}), in this order."
            )
        elif kind == "follows?":
            out.append(f"  {label}: wrong, and {detail} is wrong: fix {detail} first.")
        else:
            for part in names:
                p, parts = wrong_where[part][0]
                err = relative_error(parts[part], refs[id(p)][part])
                b1 = all(q.B > 1 for q, _ in wrong_where[part])
                note = " (right for B = 1: look at the sums over the batch)" if b1 else ""
                out.append(
                    f"  {part}: wrong{note}, relative error {err:.2g} on {p.label}; not a mistake the checker knows. "
                    f"Expected: {ex.hints.get(part, part)}."
                )
    right = [k for k in ex.parts if verdict.get(k) == "right"]
    if right:
        out.append(f"  {', '.join(right)}: right.")
    fixed = readable[0] if readable and readable[0][0].label.startswith("the small") else None
    if fixed is not None:
        p, parts = fixed[0], fixed[1]
        bad = [k for k in ex.parts if verdict.get(k) == "wrong" and k in parts and not _same(parts[k], refs[id(p)][k])]
        if bad:
            out.append(f'  On the small fixed input (lstm_np.exercises.fixed_inputs("{ex.key}")):')
            out += [f"    {k}: expected {_fmt(refs[id(p)][k])}, got {_fmt(parts[k])}" for k in bad[:4]]
    numerical = _numerical_line(ex, readable)
    if numerical:
        out.append("  " + numerical)
    return CheckResult(ex.key, False, "wrong", out, verdict)


def _stored_as(ex, part, usable, refs):
    """The cache entry whose reference values ``part`` holds (entries stored in the wrong order), or None."""
    if part not in ex.cache or not usable:
        return None
    for other in ex.cache[5 if len(ex.cache) == 10 else 4 :]:
        if other != part and all(
            other in refs[id(p)] and _same(parts[part], refs[id(p)][other]) for p, parts in usable
        ):
            return other
    return None


def _yours(parts, ups):
    return {u: parts[u] for u in ups if u in parts}


def _search(ex, part, usable, ups, found, right, pairs):
    """The known mistake (or, with ``pairs``, pair of mistakes) that reproduces ``part`` on every usable input."""
    if not usable:
        return None
    cache = {}

    def value(m, p, parts):
        key = (m, id(p))
        if key not in cache:
            try:
                with np.errstate(all="ignore"):
                    cache[key] = ex.model(p, m, _yours(parts, ups))[part]
            except ValueError:  # the mistake does not run at this shape (e.g. Wx for Wh with D != H)
                cache[key] = None
        return cache[key]

    def matches(m):
        for p, parts in usable:
            v = value(m, p, parts)
            if v is None or not _same(parts[part], v):
                return False
        return True

    def affects(m):  # the mistake changes this part somewhere
        return any(
            (v := value(frozenset([m]), p, parts)) is None or not _same(v, value(frozenset(), p, parts))
            for p, parts in usable
        )

    def spoils(m):  # how many parts that you have right this mistake would have made wrong
        changed = 0
        for q in right:
            for p, parts in usable:
                try:
                    with np.errstate(all="ignore"):
                        a, b = ex.model(p, frozenset([m]), {})[q], ex.model(p, frozenset(), {})[q]
                except ValueError:
                    continue
                if not _same(a, b):
                    changed += 1
                    break
        return changed

    order = [m for m in found if m in ex.mistakes] + [m for m in ex.mistakes if m not in found]
    relevant = [m for m in order if affects(m)]
    if not pairs:
        singles = [m for m in relevant if matches(frozenset([m]))]
        # the one that explains this part and leaves your right parts right
        return [min(singles, key=spoils)] if singles else None
    for m1, m2 in itertools.combinations(relevant, 2):
        if matches(frozenset([m1, m2])):
            return [m1, m2]
    return None


def _numerical_line(ex, readable):
    if ex.loss is None:
        return ""
    for p, parts in readable:
        if p.numerical:
            loss, arrays = ex.loss(p)
            errs = {}
            for k, arr in arrays.items():
                if k in parts:
                    errs[k] = relative_error(parts[k], numerical_gradient(loss, arr))
            if not errs:
                return ""
            bad = {k: e for k, e in errs.items() if e > 1e-7}
            where = f"Against central differences ({p.label}):"
            if bad:
                differ = ", ".join(f"{k} {e:.2g}" for k, e in bad.items())
                agree = ", ".join(k for k in errs if k not in bad) or "none"
                return f"{where} {differ} differ (relative error); {agree} agree."
            worst = max(errs, key=errs.get)
            return f"{where} all agree, largest relative error {errs[worst]:.1g} ({worst})."
    return ""


def _pass_summary(ex, readable, refs):
    worst = max(
        relative_error(parts[k], refs[id(p)][k]) for p, parts in readable for k in parts
    )
    parts = ", ".join(k for k in ex.parts)
    text = (f"{parts} equal the reference on {len(readable)} inputs (the small fixed one and random float64 ones, "
            f"B = 1 to 4; largest relative error {worst:.1g}).")  # fmt: skip
    numerical = _numerical_line(ex, readable)
    return text + (" " + numerical if numerical else "")


def check_lstm_forward(fn, verbose=True):
    """Check your LSTM step forward against ``lstm_np.cells.lstm.step_forward``.

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, c_prev, Wx, Wh, b) -> h, c, cache`` with x (B, D), h_prev and
        c_prev (B, H), Wx (D, 4H), Wh (H, 4H), b (4H,), gate order i, f, o, g; h and c
        (B, H); cache ``(x, h_prev, c_prev, Wx, Wh, i, f, o, g, c)``.
    verbose : bool
        Print the report (default).

    Returns
    -------
    CheckResult
        Judges i, f, o, g (read from the cache), c, h and the cache.
    """
    return _check("lstm_forward", fn, verbose)


def check_lstm_backward(fn, verbose=True):
    """Check your LSTM step backward against ``lstm_np.cells.lstm.step_backward``.

    Parameters
    ----------
    fn : callable
        ``fn(dh, dc_next, cache) -> dx, dh_prev, dc_prev, grads`` with dh, dc_next (B, H),
        the cache of the reference forward step, dx (B, D), dh_prev and dc_prev (B, H),
        grads ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``.
    verbose : bool
        Print the report (default).

    Returns
    -------
    CheckResult
        Judges dz_i, dz_f, dz_o, dz_g (read from ``grads["b"]`` where B = 1), dc_prev,
        dx, dh_prev, dWx, dWh and db (where B > 1); also compares with central differences.
    """
    return _check("lstm_backward", fn, verbose)


def check_gru_forward(fn, verbose=True):
    """Check your GRU step forward against ``lstm_np.cells.gru.step_forward``.

    Parameters
    ----------
    fn : callable
        ``fn(x, h_prev, Wx, Wh, bx, bh) -> h, cache`` with x (B, D), h_prev (B, H),
        Wx (D, 3H), Wh (H, 3H), bx and bh (3H,), gate order r, z, n; h (B, H); cache
        ``(x, h_prev, Wx, Wh, r, z, n, u_n)``.
    verbose : bool
        Print the report (default).

    Returns
    -------
    CheckResult
        Judges r, z, u_n, n (read from the cache), h and the cache.
    """
    return _check("gru_forward", fn, verbose)


def check_gru_backward(fn, verbose=True):
    """Check your GRU step backward against ``lstm_np.cells.gru.step_backward``.

    Parameters
    ----------
    fn : callable
        ``fn(dh, cache) -> dx, dh_prev, grads`` with dh (B, H), the cache of the reference
        forward step, dx (B, D), dh_prev (B, H), grads
        ``{"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}``.
    verbose : bool
        Print the report (default).

    Returns
    -------
    CheckResult
        Judges da_r, da_z, da_n, du_r, du_z, du_n (read from ``grads["bx"]`` and
        ``grads["bh"]`` where B = 1), dx, dh_prev, dWx, dWh, dbx and dbh (where B > 1);
        also compares with central differences.
    """
    return _check("gru_backward", fn, verbose)


# --------------------------------------------------------------------------- the stub version of the notebook


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def make_stubs(nb):
    """The exercise notebook with every solution replaced by a stub.

    In each cell tagged ``"solution"``, everything from the ``# SOLUTION`` line
    to the end of the cell becomes ``raise NotImplementedError`` (at the same
    indentation), so the function keeps its signature and docstring. Outputs and
    execution counts are cleared; the tag becomes ``"exercise"``.

    Parameters
    ----------
    nb : dict
        A notebook as read by ``json.load`` or ``nbformat.read`` (not modified).

    Returns
    -------
    dict
        A new notebook of the same kind.
    """
    nb = copy.deepcopy(nb)
    n_solutions = 0
    for k, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG not in tags:
            continue
        lines = _source(cell).split("\n")
        marks = [j for j, line in enumerate(lines) if line.strip() == SOLUTION_MARKER]
        if len(marks) != 1:
            raise ValueError(
                f"cell {k} is tagged {SOLUTION_TAG!r} but has {len(marks)} {SOLUTION_MARKER!r} lines; expected 1"
            )
        j = marks[0]
        indent = lines[j][: len(lines[j]) - len(lines[j].lstrip())]
        cell["source"] = "\n".join(lines[:j] + [indent + s for s in STUB_LINES])
        cell["metadata"]["tags"] = ["exercise" if t == SOLUTION_TAG else t for t in tags]
        n_solutions += 1
    if not n_solutions:
        raise ValueError(f"no cell tagged {SOLUTION_TAG!r}: is this the exercise notebook?")
    return nb


def write_stub_notebook(src, dst):
    """Read the notebook ``src``, write its stub version (``make_stubs``) to ``dst``."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("dst must differ from src: the stub version would overwrite the solutions")
    nb = json.loads(src.read_text(encoding="utf-8"))
    dst.write_text(json.dumps(make_stubs(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return dst


def main(argv=None):
    """``python -m lstm_np.exercises --stubs SRC DST``."""
    parser = argparse.ArgumentParser(prog="python -m lstm_np.exercises", description=__doc__.split("\n")[0])
    parser.add_argument("--stubs", nargs=2, metavar=("SRC", "DST"), required=True,
                        help="write the notebook SRC with its solutions replaced by stubs to DST")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        dst = write_stub_notebook(*args.stubs)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    print(f"wrote {dst}: fill in the functions marked 'YOUR CODE HERE'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
