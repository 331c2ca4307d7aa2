"""The four checks: call your function on every input, read what it returned, diagnose, report.

Your function is called on copies of the inputs; whatever it raises (a
``SystemExit`` or a ``KeyboardInterrupt`` included) is caught and reported, so
a check always returns a ``CheckResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..cells import gru as gru_cell
from ..cells import lstm as lstm_cell
from .diagnosis import Run, diagnose, structure
from .inputs import probes
from .readers import READERS, Unreadable
from .report import report

__all__ = ["CheckResult", "EXERCISE_SPECS", "check", "check_lstm_forward", "check_lstm_backward", "check_gru_forward",
           "check_gru_backward"]


@dataclass
class CheckResult:
    """What a check found.

    Attributes
    ----------
    exercise : str
        ``"lstm_forward"``, ``"lstm_backward"``, ``"gru_forward"``, ``"gru_backward"`` or ``"lstm_sequence"``.
    ok : bool
        True when every output equals the reference on every input.
    status : str
        ``"passed"``, ``"not implemented"``, ``"wrong"`` or ``"error"`` (it raised, or
        returned something of the wrong structure, on every input, or was interrupted).
    messages : list of str
        The report, one line each (what ``print(result)`` shows).
    parts : dict of str to str
        Each checked part (``"h"``, ``"dz_o"``, ``"dh_prev"``, ...) and its verdict:
        ``"right"`` (equal to the reference on every input), ``"wrong"``, ``"follows"``
        (wrong only because a part it is computed from is wrong), ``"unread"`` (of the
        wrong shape or dtype, or not finite, on some inputs) or ``"unchecked"`` (equal
        where it could be read, but the function raised on other inputs, or the part
        could not be read there).
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


@dataclass
class Exercise:
    key: str
    title: str
    signature: str
    arg_names: tuple
    parts: tuple  # display order, each after the parts it is computed from
    loss: object = None  # backward: (probe) -> (loss_fn, {part: array to differentiate})
    cache: tuple = ()  # forward: the names of the cache entries, in order
    structure: tuple = None  # (upstream, own lines, below), traced from the reference

    def __post_init__(self):
        self.structure = structure(self.key, self.parts)


def _lstm_loss(p):
    dh, dc_next, _ = p.args
    x, h_prev, c_prev, Wx, Wh, b = (a.copy() for a in p.params)

    def loss():
        h, c, _ = lstm_cell.step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return np.sum(h * dh) + np.sum(c * dc_next)

    return loss, {"dx": x, "dh_prev": h_prev, "dc_prev": c_prev, "dWx": Wx, "dWh": Wh, "db": b}


def _gru_loss(p):
    dh, _ = p.args
    x, h_prev, Wx, Wh, bx, bh = (a.copy() for a in p.params)

    def loss():
        return np.sum(gru_cell.step_forward(x, h_prev, Wx, Wh, bx, bh)[0] * dh)

    return loss, {"dx": x, "dh_prev": h_prev, "dWx": Wx, "dWh": Wh, "dbx": bx, "dbh": bh}


EXERCISE_SPECS = {
    "lstm_forward": Exercise(
        "lstm_forward", "LSTM step forward", "step_forward(x, h_prev, c_prev, Wx, Wh, b) -> h, c, cache",
        ("x", "h_prev", "c_prev", "Wx", "Wh", "b"), ("i", "f", "o", "g", "c", "h", "cache"),
        cache=("x", "h_prev", "c_prev", "Wx", "Wh", "i", "f", "o", "g", "c"),
    ),
    "lstm_backward": Exercise(
        "lstm_backward", "LSTM step backward", "step_backward(dh, dc_next, cache) -> dx, dh_prev, dc_prev, grads",
        ("dh", "dc_next", "cache"),
        ("dz_i", "dz_f", "dz_o", "dz_g", "dc_prev", "dx", "dh_prev", "dWx", "dWh", "db"), _lstm_loss,
    ),
    "gru_forward": Exercise(
        "gru_forward", "GRU step forward", "step_forward(x, h_prev, Wx, Wh, bx, bh) -> h, cache",
        ("x", "h_prev", "Wx", "Wh", "bx", "bh"), ("r", "z", "u_n", "n", "h", "cache"),
        cache=("x", "h_prev", "Wx", "Wh", "r", "z", "n", "u_n"),
    ),
    "gru_backward": Exercise(
        "gru_backward", "GRU step backward", "step_backward(dh, cache) -> dx, dh_prev, grads", ("dh", "cache"),
        ("da_r", "da_z", "da_n", "du_r", "du_z", "du_n", "dx", "dh_prev", "dWx", "dWh", "dbx", "dbh"), _gru_loss,
    ),
}  # fmt: skip


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


def _not_implemented(ex, name, why):
    return CheckResult(ex.key, False, "not implemented", [f"{name}: not implemented yet. {why}"])


def check(key, fn, verbose=True):
    """Run the check ``key`` on ``fn``; print the report if ``verbose``; return the ``CheckResult``."""
    ex = EXERCISE_SPECS[key]
    result = judge(ex, fn, f"check_{key}")
    if verbose:
        print(result)
    return result


def judge(ex, fn, name):
    """The ``CheckResult`` of exercise ``ex`` for the learner's ``fn``."""
    if not callable(fn):
        return CheckResult(ex.key, False, "error", [f"{name}: expected your function; got a {type(fn).__name__}"])
    runs, mutated = [], []
    for k, p in enumerate(probes(ex.key)):
        given = _copy_args(p.args)
        try:
            out = fn(*given)
        except NotImplementedError:
            return _not_implemented(ex, name, "Your function raised NotImplementedError: fill in its body (the "
                                    "equations are above it) and run the cell and this check again.")  # fmt: skip
        except KeyboardInterrupt:
            return CheckResult(ex.key, False, "error", [f"{name}: interrupted (KeyboardInterrupt) while your function "
                                                        f"ran on {p.label}; nothing was checked."])  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: every failure is reported in words
            runs.append(Run(p, raised=exc))
            continue
        if out is None and k == 0:
            return _not_implemented(ex, name, "Your function returned None: fill in its body and end it with "
                                    f"`return` ({ex.signature.split('-> ')[1]}).")  # fmt: skip
        changed = _changed_inputs(p.args, given, ex.arg_names)
        if changed and not mutated:
            mutated = changed
        try:
            parts, problems, raw = READERS[ex.key](out, p)
        except Unreadable as exc:
            runs.append(Run(p, unreadable=str(exc)))
            continue
        runs.append(Run(p, {k: v for k, v in parts.items() if v is not None}, problems, raw))
    diagnosis = diagnose(ex, runs) if any(r.parts is not None for r in runs) else None
    return report(ex, name, runs, diagnosis, mutated, CheckResult)


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
    return check("lstm_forward", fn, verbose)


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
        Judges dz_i, dz_f, dz_o, dz_g (read from ``grads["b"]`` where B = 1, recovered
        from the weight gradients where B > 1), dc_prev, dx, dh_prev, dWx, dWh and db;
        also compares with central differences.
    """
    return check("lstm_backward", fn, verbose)


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
    return check("gru_forward", fn, verbose)


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
        ``grads["bh"]`` where B = 1, recovered from the weight gradients where B > 1),
        dx, dh_prev, dWx, dWh, dbx and dbh; also compares with central differences.
    """
    return check("gru_backward", fn, verbose)
