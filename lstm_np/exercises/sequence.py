"""Exercise 5: backpropagation through time with your own step, checked against ``lstm_np.LSTM``.

You write ``forward(x, h0, c0, Wx, Wh, b) -> out, (h_T, c_T), caches`` (your
step forward over t = 0..T-1) and ``backward(dout, caches, dh_T, dc_T) -> dx,
dh0, dc0, grads`` (your step backward from t = T-1 down to 0).
``check_lstm_sequence(forward, backward)`` runs both on random float64
sequences of a few shapes and compares with ``LSTM.forward`` and
``LSTM.backward``; for a wrong part it tries the usual slips of BPTT (the
gradient at h or c not carried to the previous step, dout not added, the
weight gradients of one step only) and names the one that gives your numbers.
"""

from __future__ import annotations

import numpy as np

from ..cells import lstm as lstm_cell
from ..sequence import LSTM
from .checks import CheckResult
from .errors import describe, where
from .readers import same

__all__ = ["check_lstm_sequence"]

_SHAPES = ((1, 4, 2, 3, 21), (3, 5, 3, 2, 22), (2, 1, 3, 4, 23))  # (B, T, D, H, seed)
_PARTS = ("out", "h_T", "c_T", "dx", "dh0", "dc0", "dWx", "dWh", "db")
_SIGNATURE = "forward(x, h0, c0, Wx, Wh, b) -> out, (h_T, c_T), caches; backward(dout, caches, dh_T, dc_T) -> " \
             "dx, dh0, dc0, grads"  # fmt: skip


def _bptt(dout, caches, dh_T, dc_T, slip=None):
    """BPTT with the reference step; ``slip`` names one of the usual mistakes."""
    B, T, H = dout.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((B, T, D))
    grads = {k: np.zeros_like(v) for k, v in zip(("Wx", "Wh"), caches[0][3:5])}
    grads["b"] = np.zeros(4 * H)
    dh, dc = dh_T.copy(), dc_T.copy()
    for t in reversed(range(T)):
        dh_t = dout[:, t] if slip == "h_not_carried" else dh if slip == "dout_not_added" else dout[:, t] + dh
        dc_t = np.zeros_like(dc) if slip == "c_not_carried" and t < T - 1 else dc
        dx[:, t], dh, dc, g = lstm_cell.step_backward(dh_t, dc_t, caches[t])
        for k in grads:
            if slip == "grads_last_step_only" and t < T - 1 or slip == "grads_first_step_only" and t > 0:
                continue
            grads[k] = grads[k] + g[k]
    return {"dx": dx, "dh0": dh, "dc0": dc, "dWx": grads["Wx"], "dWh": grads["Wh"], "db": grads["b"]}


_SLIPS = {
    "h_not_carried": "the gradient at h_t must add what comes back from step t + 1 (its dh_prev) to dout[:, t]; "
    "yours uses dout[:, t] alone",
    "dout_not_added": "the gradient at h_t must add dout[:, t] (the loss at step t) to what comes back from step t + 1",
    "c_not_carried": "the gradient at c_t is the dc_prev that comes back from step t + 1; yours starts each step from "
    "zero",
    "grads_last_step_only": "the weights are shared by every step, so their gradients add over t; yours holds the "
    "last step's only (is `grads = g` overwriting a sum?)",
    "grads_first_step_only": "the weights are shared by every step, so their gradients add over t; yours holds the "
    "first step's (t = 0) only",
}


def _inputs(B, T, D, H, seed):
    rng = np.random.default_rng(seed)
    layer = LSTM(D, H, rng=rng)
    x = rng.standard_normal((B, T, D))
    h0, c0 = 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))
    dout, dh_T, dc_T = (rng.standard_normal(s) for s in ((B, T, H), (B, H), (B, H)))
    return layer, x, h0, c0, dout, dh_T, dc_T


def _read(value, shape):
    try:
        a = np.asarray(value, dtype=np.float64)
    except Exception:  # noqa: BLE001
        return None
    return a if a.shape == shape and np.all(np.isfinite(a)) else None


def check_lstm_sequence(forward, backward, verbose=True):
    """Check your BPTT (forward and backward over a sequence, with your step) against ``lstm_np.LSTM``.

    Parameters
    ----------
    forward : callable
        ``forward(x, h0, c0, Wx, Wh, b) -> out, (h_T, c_T), caches`` with x (B, T, D), h0 and c0
        (B, H), out (B, T, H), caches a list of the T step caches.
    backward : callable
        ``backward(dout, caches, dh_T, dc_T) -> dx, dh0, dc0, grads`` with dout (B, T, H), dh_T and
        dc_T (B, H), dx (B, T, D), grads ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``.
    verbose : bool
        Print the report (default).

    Returns
    -------
    CheckResult
        ``exercise == "lstm_sequence"``; judges out, h_T, c_T, dx, dh0, dc0, dWx, dWh, db.
    """
    name, head = "check_lstm_sequence", f"check_lstm_sequence: LSTM over a sequence (BPTT), {_SIGNATURE}"
    result = _judge(forward, backward, name, head)
    if verbose:
        print(result)
    return result


def _judge(forward, backward, name, head):
    for fn in (forward, backward):
        if not callable(fn):
            return CheckResult("lstm_sequence", False, "error", [f"{name}: expected two functions; got a "
                                                                 f"{type(fn).__name__}"])  # fmt: skip
    verdict, lines, wrong, worst = {p: "right" for p in _PARTS}, [], {}, 0.0
    for B, T, D, H, seed in _SHAPES:
        layer, x, h0, c0, dout, dh_T, dc_T = _inputs(B, T, D, H, seed)
        label = f"(B, T, D, H) = ({B}, {T}, {D}, {H})"
        p = layer.params
        ref_out, (ref_h, ref_c), cache = layer.forward(x, h0, c0)
        ref_dx, ref_dh0, ref_dc0 = layer.backward(dout, cache, dh_T, dc_T)
        ref = {"out": ref_out, "h_T": ref_h, "c_T": ref_c, "dx": ref_dx, "dh0": ref_dh0, "dc0": ref_dc0,
               **{f"d{k}": v for k, v in layer.grads.items()}}  # fmt: skip
        try:
            out, (h_T, c_T), caches = forward(x.copy(), h0.copy(), c0.copy(), p["Wx"].copy(), p["Wh"].copy(),
                                              p["b"].copy())  # fmt: skip
            got = {"out": out, "h_T": h_T, "c_T": c_T}
            dx, dh0, dc0, grads = backward(dout.copy(), caches, dh_T.copy(), dc_T.copy())
            got.update({"dx": dx, "dh0": dh0, "dc0": dc0, "dWx": grads["Wx"], "dWh": grads["Wh"], "db": grads["b"]})
        except NotImplementedError:
            return CheckResult("lstm_sequence", False, "not implemented", [
                f"{name}: not implemented yet. Your function raised NotImplementedError: fill in the bodies of "
                "forward and backward (they call your lstm_step_forward and lstm_step_backward)."])  # fmt: skip
        except KeyboardInterrupt:
            return CheckResult("lstm_sequence", False, "error", [f"{name}: interrupted; nothing was checked."])
        except BaseException as exc:  # noqa: BLE001 - reported in words
            w = where(exc)
            return CheckResult("lstm_sequence", False, "error", [head, f"  NOT YET: your functions raised "
                               f"{type(exc).__name__} on {label}: {describe(exc)}" + (f"\n    {w}" if w else "")])  # fmt: skip
        for part in _PARTS:
            a = _read(got[part], ref[part].shape)
            if a is None:
                verdict[part] = "unread"
                lines.append(f"{part} is not a finite float array of shape {ref[part].shape} (on {label})")
                continue
            if not same(a, ref[part]):
                if verdict[part] == "right":
                    verdict[part] = "wrong"
                    slips = [s for s in _SLIPS if part in _bptt(dout, _ref_caches(x, h0, c0, p), dh_T, dc_T, s)
                             and same(a, _bptt(dout, _ref_caches(x, h0, c0, p), dh_T, dc_T, s)[part])]  # fmt: skip
                    why = _SLIPS[slips[0]] if slips else "not a slip the checker knows"
                    wrong.setdefault(f"on {label}: {why}", []).append(part)
            else:
                worst = max(worst, float(np.max(np.abs(a - ref[part])) / (np.max(np.abs(ref[part])) + 1e-300)))
    if all(v == "right" for v in verdict.values()):
        return CheckResult("lstm_sequence", True, "passed", [f"{head}\n  PASSED: {', '.join(_PARTS)} equal "
                           f"LSTM.forward and LSTM.backward on {len(_SHAPES)} random sequences (T = 1 to 5, B = 1 "
                           f"to 3; largest relative difference {worst:.1g})."], verdict)  # fmt: skip
    out = [head, f"  NOT YET: {sum(v != 'right' for v in verdict.values())} of {len(_PARTS)} parts wrong."]
    out += ["  " + s for s in dict.fromkeys(lines)]
    out += [f"  {', '.join(parts)}: wrong {why}." for why, parts in wrong.items()]
    right = [k for k, v in verdict.items() if v == "right"]
    if right:
        out.append(f"  {', '.join(right)}: right.")
    return CheckResult("lstm_sequence", False, "wrong", out, verdict)


def _ref_caches(x, h0, c0, p):
    h, c, caches = h0, c0, []
    for t in range(x.shape[1]):
        h, c, cache = lstm_cell.step_forward(x[:, t], h, c, p["Wx"], p["Wh"], p["b"])
        caches.append(cache)
    return caches
