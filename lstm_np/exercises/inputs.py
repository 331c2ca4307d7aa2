"""The inputs each check calls your function on: one small fixed input, random ones of several batch sizes.

Every part is judged on each batch size B = 1, 2, 3, 4 (and on a square D == H,
so that Wx used where Wh belongs still runs and can be named). The backward
checks read each gate's dz from ``grads["b"]`` where B = 1; where B > 1 they
recover it from ``grads["Wx"] = x^T dz`` (D >= B), ``grads["Wh"]`` (H >= B)
and ``grads["b"]``, when these agree (``readers.recover_rows``): the shapes
below keep D and H at least B on most batches for that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cells import gru as gru_cell
from ..cells import lstm as lstm_cell

__all__ = ["EXERCISES", "TOLERANCE", "Probe", "fixed_inputs", "probes"]

#: The exercises, in the notebook's order.
EXERCISES = ("lstm_forward", "lstm_backward", "gru_forward", "gru_backward")

#: Largest relative error (``gradcheck.relative_error``) accepted between your
#: output and the reference, in float64.
TOLERANCE = 1e-9


@dataclass
class Probe:
    """One input: its label in the report, its sizes, the call's arguments and the forward step's inputs."""

    label: str
    B: int
    D: int
    H: int
    args: tuple  # what the learner's function is called with
    params: tuple  # the forward step's inputs (for the backward: those that made the cache)
    numerical: bool = False  # also compared with central differences (backward only)

    @property
    def shape(self):
        return f"(B, D, H) = ({self.B}, {self.D}, {self.H})"


# (B, D, H, seed): B = 1 first (dz is read from grads["b"] there), one with
# D == H, then batches of 2, 3, 4 rows (with D and H at least B, so that dz can be recovered).
RANDOM_SHAPES = ((1, 3, 2, 11), (1, 2, 3, 12), (1, 3, 3, 13), (2, 3, 4, 14), (3, 4, 3, 15), (4, 5, 4, 16))
NUMERICAL_SHAPE = (2, 3, 4, 14)  # the batch on which the backward is also compared with central differences


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
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of {sorted(EXERCISES)}; got {exercise!r}")
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
        _, _, cache = lstm_cell.step_forward(*forward.values())
        return {"dh": np.array([[1.0]]), "dc_next": np.array([[0.5]]), "cache": cache}
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
    _, cache = gru_cell.step_forward(*forward.values())
    return {"dh": np.array([[1.0]]), "cache": cache}


def probes(exercise):
    """The inputs of a check: the small fixed one, then the random ones of ``RANDOM_SHAPES``."""
    fixed = tuple(fixed_inputs(exercise).values())
    fixed_params = tuple(fixed_inputs(exercise.replace("backward", "forward")).values())
    out = [Probe("the small fixed input", 1, 2, 1, fixed, fixed_params)]
    for B, D, H, seed in RANDOM_SHAPES:
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
        numerical = exercise.endswith("backward") and (B, D, H, seed) == NUMERICAL_SHAPE
        out.append(Probe(f"random (B, D, H) = ({B}, {D}, {H})", B, D, H, args, params, numerical))
    return out
