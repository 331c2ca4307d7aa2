"""Gradient checking: analytic gradients against central differences.

For a scalar loss L and an array x, the numerical gradient of each entry is

    (L(x + eps e_k) - L(x - eps e_k)) / (2 eps)

and the check reports the relative error

    max |a - n| / max(max(|a| + |n|), tiny)

between the analytic gradient a and the numerical one n. In float64 with
eps = 1e-5 a correct backward pass gives about 1e-8 or less; a wrong one
gives something near 1. (eps trades the O(eps^2) truncation error of the
formula against the O(1e-16 |L| / eps) rounding error of subtracting two
nearly equal losses; 1e-5 balances them for losses of order 1-10.)

``gradcheck_report`` runs the check on every case of ``CASES``: every
parameter and input of every cell, layer (with a mask, an initial state and
gradients arriving at the final state), block and model of the package;
``lstm-np gradcheck`` prints its table. The cases are built in
``gradcheck.cases`` (cells, layers and blocks) and ``gradcheck.model_cases``
(the applications' models, imported inside the functions that build them).
"""

from __future__ import annotations

import numpy as np

from .._checks import as_rng, as_scalar
from .cases import CASES

__all__ = [
    "TOLERANCE",
    "numerical_gradient",
    "relative_error",
    "check_gradients",
    "gradcheck_report",
    "format_report",
    "CASES",
]

#: Largest relative error accepted in float64.
TOLERANCE = 1e-7


def numerical_gradient(loss_fn, x, eps=1e-5):
    """Central-difference gradient of ``loss_fn()`` with respect to array ``x``.

    Parameters
    ----------
    loss_fn : callable
        Takes no arguments and returns a scalar; it must read ``x`` (which is
        perturbed in place, one entry at a time, and restored exactly).
    x : ndarray, float64
    eps : float

    Returns
    -------
    ndarray, shape of x
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical gradients need float64 arrays; got {x.dtype}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = loss_fn()
        flat[k] = old - eps
        minus = loss_fn()
        flat[k] = old
        gflat[k] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a, n, tiny=1e-30):
    """max |a - n| / max(max(|a| + |n|), tiny); 0.0 for empty or all-zero arrays."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {a.shape}, numerical {n.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n)) / max(float(np.max(np.abs(a) + np.abs(n))), tiny))


def check_gradients(loss_fn, arrays, analytic, eps=1e-5):
    """Relative error of each analytic gradient against central differences.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn()`` -> float, computed from the arrays in ``arrays``.
    arrays : dict of str to ndarray
        The arrays to differentiate with respect to (perturbed in place).
    analytic : dict of str to ndarray
        The analytic gradients, same names and shapes.

    Returns
    -------
    dict of str to float
    """
    return {
        name: relative_error(analytic[name], numerical_gradient(loss_fn, x, eps))
        for name, x in arrays.items()
    }



def gradcheck_report(seed=0, tol=TOLERANCE):
    """Check every parameter and input of every component.

    Returns
    -------
    list of dict
        One row per checked array: ``component``, ``name``, ``shape``,
        ``error`` (relative error) and ``ok`` (``error <= tol``).

    Raises
    ------
    TypeError, ValueError
        ``tol`` not a finite number > 0, or ``seed`` not an integer >= 0.
    """
    tol = as_scalar("tol", tol, low=0, low_open=True)
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer >= 0; got {type(seed).__name__}")
    rng = as_rng(seed)
    rows = []
    for component, make in CASES.items():
        loss_fn, arrays, analytic = make(rng)
        for name, err in check_gradients(loss_fn, arrays, analytic).items():
            rows.append(
                {"component": component, "name": name, "shape": arrays[name].shape, "error": err, "ok": err <= tol}
            )
    return rows


def format_report(rows, tol=TOLERANCE):
    """The rows of ``gradcheck_report`` as a plain-text table (columns as wide as their longest entry)."""
    wc = max([len("component"), *(len(r["component"]) for r in rows)])
    wa = max([len("array"), *(len(r["name"]) for r in rows)])
    shapes = ["x".join(map(str, r["shape"])) or "()" for r in rows]
    ws = max([len("shape"), *map(len, shapes)])
    rule = "-" * (wc + wa + ws + 20)
    lines = [f"{'component':<{wc}} {'array':<{wa}} {'shape':<{ws}} {'rel. error':>10}", rule]
    for r, shape in zip(rows, shapes):
        lines.append(f"{r['component']:<{wc}} {r['name']:<{wa}} {shape:<{ws}} {r['error']:>10.2e}  {'ok' if r['ok'] else 'FAIL'}")
    n_bad = sum(not r["ok"] for r in rows)
    lines.append(rule)
    lines.append(
        f"{len(rows)} arrays checked, tolerance {tol:.0e}: "
        + ("all passed" if n_bad == 0 else f"{n_bad} FAILED")
    )
    return "\n".join(lines)
