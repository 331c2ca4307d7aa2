"""The checkers themselves: a planted error just above a tolerance is caught, and each diagnosis names its mistake.

* ``gradcheck``: an analytic gradient wrong by twice the tolerance (relative error 2e-7 against 1e-7) fails the
  report and ``lstm-np gradcheck``; one wrong by a tenth of it passes.
* The exercise checker: an output off by twice its tolerance is wrong, a tenth of it is right.
* Each one-off diagnosis of the exercise checker's catalogue (``exercises.catalogue``; the generated classes
  have their own tests in test_exercise_mistakes.py) is asserted by name on a learner step written here, with
  the mistake it describes: the part it concerns is the one blamed, and the report says what the mistake is.
"""

from types import SimpleNamespace

import numpy as np
import pytest

import lstm_np.gradcheck as gc
from lstm_np import exercises
from lstm_np.cells import lstm as lstm_cell
from lstm_np.cells.lstm import sigmoid
from lstm_np.cli import main

# --------------------------------------------------------------------------- the gradient check


def test_the_gradient_checks_tolerance_is_the_documented_one():
    assert gc.TOLERANCE == 1e-7  # the README: "it exits non-zero if any exceeds 1e-7"


def _planted(factor):
    """The LSTM step's case with the largest entry of its analytic dWx multiplied by ``factor``."""

    case = gc.CASES["lstm_cell"]

    def make(rng):
        loss_fn, arrays, analytic = case(rng)
        bad = dict(analytic, Wx=analytic["Wx"].copy())
        k = np.argmax(np.abs(bad["Wx"]))
        bad["Wx"].flat[k] *= factor
        return loss_fn, arrays, bad

    return make


@pytest.mark.parametrize("factor, caught", [(1 + 4e-7, True), (1 - 4e-7, True), (1 + 2e-8, False)])
def test_a_gradient_wrong_just_above_the_tolerance_is_caught(monkeypatch, capsys, factor, caught):
    monkeypatch.setattr(gc, "CASES", {"planted": _planted(factor)})
    rows = {r["name"]: r for r in gc.gradcheck_report(seed=0)}
    expected = abs(factor - 1) / 2  # |a - n| / (|a| + |n|) at the planted entry
    assert rows["Wx"]["error"] == pytest.approx(expected, rel=0.05)
    assert rows["Wx"]["ok"] is not caught and all(r["ok"] for k, r in rows.items() if k != "Wx")
    assert main(["gradcheck"]) == (1 if caught else 0)
    assert ("1 FAILED" in capsys.readouterr().out) is caught


# --------------------------------------------------------------------------- the exercise checker's tolerance


def _scaled_forward(factor):
    def fn(x, h_prev, c_prev, Wx, Wh, b):
        h, c, cache = lstm_cell.step_forward(x, h_prev, c_prev, Wx, Wh, b)
        h = h.copy()
        h.flat[np.argmax(np.abs(h))] *= factor
        return h, c, cache

    return fn


@pytest.mark.parametrize("factor, caught", [(1 + 4 * exercises.TOLERANCE, True), (1 + 0.2 * exercises.TOLERANCE, False)])
def test_an_output_wrong_just_above_the_exercise_tolerance_is_caught(factor, caught):
    assert exercises.TOLERANCE <= 1e-9
    result = exercises.check_lstm_forward(_scaled_forward(factor), verbose=False)
    assert result.ok is not caught
    assert (result.parts["h"] == "wrong") is caught and result.parts["c"] == "right"


# --------------------------------------------------------------------------- each diagnosis, by name
# Learner steps written as a learner would, one named value per line; ``over`` replaces a line by a mistake.


def _run(lines, over, e):
    for name, expr in lines:
        setattr(e, name, over[name](e) if name in over else expr(e))
    return e


def _H(e):
    return e.h_prev.shape[1]


LSTM_FWD = [
    ("z", lambda e: e.x @ e.Wx + e.h_prev @ e.Wh + e.b),
    ("i", lambda e: sigmoid(e.z[:, : _H(e)])),
    ("f", lambda e: sigmoid(e.z[:, _H(e) : 2 * _H(e)])),
    ("o", lambda e: sigmoid(e.z[:, 2 * _H(e) : 3 * _H(e)])),
    ("g", lambda e: np.tanh(e.z[:, 3 * _H(e) :])),
    ("c", lambda e: e.f * e.c_prev + e.i * e.g),
    ("tc", lambda e: np.tanh(e.c)),
    ("h", lambda e: e.o * e.tc),
]
LSTM_BWD = [
    ("tc", lambda e: np.tanh(e.c)),
    ("dc", lambda e: e.dc_next + e.dh * e.o * (1 - e.tc**2)),
    ("do", lambda e: e.dh * e.tc),
    ("di", lambda e: e.dc * e.g),
    ("dg", lambda e: e.dc * e.i),
    ("df", lambda e: e.dc * e.c_prev),
    ("dz", lambda e: np.concatenate([e.di * e.i * (1 - e.i), e.df * e.f * (1 - e.f), e.do * e.o * (1 - e.o),
                                     e.dg * (1 - e.g**2)], axis=1)),
    ("dx", lambda e: e.dz @ e.Wx.T),
    ("dh_prev", lambda e: e.dz @ e.Wh.T),
    ("dc_prev", lambda e: e.dc * e.f),
    ("dWx", lambda e: e.x.T @ e.dz),
    ("dWh", lambda e: e.h_prev.T @ e.dz),
]
GRU_FWD = [
    ("a", lambda e: e.x @ e.Wx + e.bx),
    ("u", lambda e: e.h_prev @ e.Wh + e.bh),
    ("r", lambda e: sigmoid(e.a[:, : _H(e)] + e.u[:, : _H(e)])),
    ("z", lambda e: sigmoid(e.a[:, _H(e) : 2 * _H(e)] + e.u[:, _H(e) : 2 * _H(e)])),
    ("u_n", lambda e: e.u[:, 2 * _H(e) :]),
    ("n", lambda e: np.tanh(e.a[:, 2 * _H(e) :] + e.r * e.u_n)),
    ("h", lambda e: (1 - e.z) * e.n + e.z * e.h_prev),
]
GRU_BWD = [
    ("dn", lambda e: e.dh * (1 - e.z)),
    ("dz", lambda e: e.dh * (e.h_prev - e.n)),
    ("da_n", lambda e: e.dn * (1 - e.n**2)),
    ("dr", lambda e: e.da_n * e.u_n),
    ("du_n", lambda e: e.da_n * e.r),
    ("da", lambda e: np.concatenate([e.dr * e.r * (1 - e.r), e.dz * e.z * (1 - e.z), e.da_n], axis=1)),
    ("du", lambda e: np.concatenate([e.da[:, : 2 * _H(e)], e.du_n], axis=1)),
    ("skip", lambda e: e.dh * e.z),
    ("dh_prev", lambda e: e.du @ e.Wh.T + e.skip),
    ("dx", lambda e: e.da @ e.Wx.T),
    ("dWx", lambda e: e.x.T @ e.da),
    ("dWh", lambda e: e.h_prev.T @ e.du),
]


def lstm_forward(over):
    def fn(x, h_prev, c_prev, Wx, Wh, b):
        e = _run(LSTM_FWD, over, SimpleNamespace(x=x, h_prev=h_prev, c_prev=c_prev, Wx=Wx, Wh=Wh, b=b))
        return e.h, e.c, (x, h_prev, c_prev, Wx, Wh, e.i, e.f, e.o, e.g, e.c)
    return fn


def lstm_backward(over):
    def fn(dh, dc_next, cache):
        x, h_prev, c_prev, Wx, Wh, i, f, o, g, c = cache
        e = _run(LSTM_BWD, over, SimpleNamespace(dh=dh, dc_next=dc_next, x=x, h_prev=h_prev, c_prev=c_prev, Wx=Wx,
                                                 Wh=Wh, i=i, f=f, o=o, g=g, c=c))
        return e.dx, e.dh_prev, e.dc_prev, {"Wx": e.dWx, "Wh": e.dWh, "b": e.dz.sum(axis=0)}
    return fn


def gru_forward(over):
    def fn(x, h_prev, Wx, Wh, bx, bh):
        e = _run(GRU_FWD, over, SimpleNamespace(x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, bx=bx, bh=bh))
        return e.h, (x, h_prev, Wx, Wh, e.r, e.z, e.n, e.u_n)
    return fn


def gru_backward(over):
    def fn(dh, cache):
        x, h_prev, Wx, Wh, r, z, n, u_n = cache
        e = _run(GRU_BWD, over, SimpleNamespace(dh=dh, x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, r=r, z=z, n=n, u_n=u_n))
        return e.dx, e.dh_prev, {"Wx": e.dWx, "Wh": e.dWh, "bx": e.da.sum(axis=0), "bh": e.du.sum(axis=0)}
    return fn


STEPS = {"lstm_forward": (lstm_forward, exercises.check_lstm_forward),
         "lstm_backward": (lstm_backward, exercises.check_lstm_backward),
         "gru_forward": (gru_forward, exercises.check_gru_forward),
         "gru_backward": (gru_backward, exercises.check_gru_backward)}

bh_n = lambda e: e.bh[2 * _H(e) :]  # noqa: E731

# (step, catalogue key, the learner's mistake, the part blamed, what the report says)
DIAGNOSES = [
    ("lstm_forward", "sigmoid_sign", {k: (lambda s: lambda e: sigmoid(-e.z[:, s * _H(e) : (s + 1) * _H(e)]))(s)
                                       for s, k in enumerate("ifo")}, "i", "a minus sign was lost"),
    ("lstm_forward", "z_no_b", {"z": lambda e: e.x @ e.Wx + e.h_prev @ e.Wh}, "i", "z is missing the bias"),
    ("lstm_forward", "z_no_h", {"z": lambda e: e.x @ e.Wx + e.b}, "i", "z is missing the recurrent term"),
    ("lstm_forward", "z_c_prev", {"z": lambda e: e.x @ e.Wx + e.c_prev @ e.Wh + e.b}, "i",
     "z used c_prev where h_prev belongs"),
    ("lstm_forward", "z_Wx_for_Wh", {"z": lambda e: e.x @ e.Wx + e.h_prev @ e.Wx + e.b}, "i",
     "z used Wx where Wh belongs"),
    ("lstm_forward", "c_no_forget", {"c": lambda e: e.i * e.g}, "c", "c is missing the forget path"),
    ("lstm_forward", "c_no_input", {"c": lambda e: e.f * e.c_prev + e.g}, "c", "c is missing the input gate"),
    ("lstm_forward", "c_fg_swapped", {"c": lambda e: e.i * e.c_prev + e.f * e.g}, "c", "i and f are swapped"),
    ("lstm_forward", "h_c_prev", {"tc": lambda e: np.tanh(e.c_prev)}, "h", "h used the previous cell state c_prev"),
    ("lstm_forward", "h_no_o", {"h": lambda e: e.tc}, "h", "h is missing the output gate"),
    ("lstm_forward", "h_article", {"h": lambda e: e.f * e.h_prev + e.i * e.g}, "h",
     "is the recurrence without a cell state"),
    ("lstm_backward", "dc_no_next", {"dc": lambda e: e.dh * e.o * (1 - e.tc**2)}, "dz_i", "dc is missing dc_next"),
    ("lstm_backward", "dc_no_h", {"dc": lambda e: e.dc_next}, "dz_i", "dc is missing the path through h"),
    ("lstm_backward", "dc_no_o", {"dc": lambda e: e.dc_next + e.dh * (1 - e.tc**2)}, "dz_i",
     "the path through h is missing the factor o"),
    ("lstm_backward", "dc_c_for_tanh_c", {"dc": lambda e: e.dc_next + e.dh * e.o * (1 - e.c**2)}, "dz_i",
     "the tanh derivative was taken as 1 - c^2"),
    ("lstm_backward", "do_no_tanh", {"do": lambda e: e.dh}, "dz_o", "tanh(c) is missing from dz_o"),
    ("lstm_backward", "do_c", {"do": lambda e: e.dh * e.c}, "dz_o", "dz_o used c where tanh(c) belongs"),
    ("lstm_backward", "di_dg_swapped", {"di": lambda e: e.dc * e.i, "dg": lambda e: e.dc * e.g}, "dz_i",
     "di and dg are swapped"),
    ("lstm_backward", "df_c", {"df": lambda e: e.dc * e.c}, "dz_f", "dz_f used this step's c where c_prev belongs"),
    ("lstm_backward", "dc_prev_no_f", {"dc_prev": lambda e: e.dc}, "dc_prev",
     "dc_prev is missing the forget-gate path"),
    ("lstm_backward", "dc_prev_zero", {"dc_prev": lambda e: np.zeros_like(e.dc)}, "dc_prev", "dc_prev is zero"),
    ("lstm_backward", "dc_prev_next", {"dc_prev": lambda e: e.dc_next * e.f}, "dc_prev",
     "dc_prev used dc_next alone"),
    ("lstm_backward", "dx_Wh", {"dx": lambda e: e.dz @ e.Wh.T}, "dx", "dx used Wh where Wx belongs"),
    ("lstm_backward", "dh_Wx", {"dh_prev": lambda e: e.dz @ e.Wx.T}, "dh_prev", "dh_prev used Wx where Wh belongs"),
    ("lstm_backward", "dWx_h", {"dWx": lambda e: e.h_prev.T @ e.dz}, "dWx", "dWx used h_prev where x belongs"),
    ("lstm_backward", "dWh_x", {"dWh": lambda e: e.x.T @ e.dz}, "dWh", "dWh used x where h_prev belongs"),
    ("lstm_backward", "dWh_c_prev", {"dWh": lambda e: e.c_prev.T @ e.dz}, "dWh",
     "dWh used c_prev where h_prev belongs"),
    ("gru_forward", "sigmoid_sign", {"r": lambda e: sigmoid(-(e.a[:, : _H(e)] + e.u[:, : _H(e)])),
                                     "z": lambda e: sigmoid(-(e.a[:, _H(e) : 2 * _H(e)] + e.u[:, _H(e) : 2 * _H(e)]))},
     "r", "a minus sign was lost"),
    ("gru_forward", "n_reset_before",
     {"n": lambda e: np.tanh(e.a[:, 2 * _H(e) :] + (e.r * e.h_prev) @ e.Wh[:, 2 * _H(e) :] + bh_n(e))}, "n",
     "the reset gate was applied to h_prev before the product"),
    ("gru_forward", "n_reset_no_bias", {"n": lambda e: np.tanh(e.a[:, 2 * _H(e) :] + e.r * (e.u_n - bh_n(e)) + bh_n(e))},
     "n", "r must multiply bh_n too"),
    ("gru_forward", "n_no_reset", {"n": lambda e: np.tanh(e.a[:, 2 * _H(e) :] + e.u_n)}, "n",
     "n is missing the reset gate"),
    ("gru_forward", "no_bx", {"a": lambda e: e.x @ e.Wx}, "r", "the input bias bx is missing"),
    ("gru_forward", "no_bh", {"u": lambda e: e.h_prev @ e.Wh}, "r", "the recurrent bias bh is missing"),
    ("gru_forward", "h_z_swapped", {"h": lambda e: e.z * e.n + (1 - e.z) * e.h_prev}, "h", "z and 1 - z are swapped"),
    ("gru_forward", "h_no_skip", {"h": lambda e: (1 - e.z) * e.n}, "h", "h is missing z * h_prev"),
    ("gru_backward", "dz_sign", {"dz": lambda e: e.dh * (e.n - e.h_prev)}, "da_z", "the sign of dz is flipped"),
    ("gru_backward", "dn_z", {"dn": lambda e: e.dh * e.z}, "da_n", "dn used z where 1 - z belongs"),
    ("gru_backward", "dr_no_bias", {"dr": lambda e: e.da_n * (e.h_prev @ e.Wh[:, 2 * _H(e) :])}, "da_r",
     "dr used h_prev Wh_n without bh_n"),
    ("gru_backward", "du_n_no_r", {"du_n": lambda e: e.da_n}, "du_n", "du_n is missing the factor r"),
    ("gru_backward", "du_rz_zero", {"du": lambda e: np.concatenate([0 * e.da[:, : 2 * _H(e)], e.du_n], axis=1)},
     "du_r", "they came out zero"),
    ("gru_backward", "no_skip", {"skip": lambda e: 0 * e.dh}, "dh_prev", "dh_prev is missing the direct path dh * z"),
    ("gru_backward", "skip_1mz", {"skip": lambda e: e.dh * (1 - e.z)}, "dh_prev",
     "the direct path is dh * z, not dh * (1 - z)"),
    ("gru_backward", "dh_da", {"dh_prev": lambda e: e.da @ e.Wh.T + e.skip}, "dh_prev",
     "dh_prev used da where du belongs"),
    ("gru_backward", "dh_Wx", {"dh_prev": lambda e: e.du @ e.Wx.T + e.skip}, "dh_prev",
     "dh_prev used Wx where Wh belongs"),
    ("gru_backward", "dx_du", {"dx": lambda e: e.du @ e.Wx.T}, "dx", "dx used du where da belongs"),
    ("gru_backward", "dx_Wh", {"dx": lambda e: e.da @ e.Wh.T}, "dx", "dx used Wh where Wx belongs"),
    ("gru_backward", "dWx_du", {"dWx": lambda e: e.x.T @ e.du}, "dWx", "dWx used du where da belongs"),
    ("gru_backward", "dWh_da", {"dWh": lambda e: e.h_prev.T @ e.da}, "dWh", "dWh used da where du belongs"),
]


def test_every_one_off_diagnosis_of_the_catalogue_is_asserted_here():
    from lstm_np.exercises.catalogue import MISTAKES

    one_off = {(step, m.key) for step, table in MISTAKES.items() for m in table.values()
               if getattr(m, "kind", "one-off") == "one-off"}
    asserted = {(step, key) for step, key, *_ in DIAGNOSES}
    assert asserted <= set((s, k) for s, t in MISTAKES.items() for k in t), "a key no longer in the catalogue"
    assert one_off - asserted == set()


@pytest.mark.parametrize("step, key, over, part, words", DIAGNOSES, ids=[f"{s}-{k}" for s, k, *_ in DIAGNOSES])
def test_each_diagnosis_names_its_mistake(step, key, over, part, words):
    build, check = STEPS[step]
    assert check(build({}), verbose=False).ok  # the learner step without the mistake passes
    result = check(build(over), verbose=False)
    assert not result.ok and result.parts.get(part) == "wrong", (part, result.parts, str(result))
    assert words in str(result), str(result)
