"""The catalogue of mistakes of each step: the generated classes (``mistakes.py``) and a table of one-off rows.

Adding a mistake means adding one row to one table below: ``row(key, line, new
line, words)`` replaces a line of ``equations.STEPS[step]``; a class gets a row
in its own small table (``_NONLINEARITIES``, ``_DERIVATIVES``, ...).
"""

from __future__ import annotations

import numpy as np

from ..cells.lstm import sigmoid
from .mistakes import Mistake, concat_orders, derivatives, nonlinearities, reductions, row, slice_orders, transposes

__all__ = ["MISTAKES"]

_neg_sigmoid = lambda v: sigmoid(-v)  # noqa: E731

# --------------------------------------------------------------------------- LSTM forward

_LSTM_SLICES = "z_i = z[:, 0:H], z_f = z[:, H:2H], z_o = z[:, 2H:3H], z_g = z[:, 3H:4H]"
_GATE = "the gates are sigmoids"
_LSTM_NONLINEARITIES = [  # (line, label, what goes through it, its input, right, equation, why)
    ("i", "i", "i", lambda e: e.z_i, "sigma", "i = sigma(z_i)", _GATE),
    ("f", "f", "f", lambda e: e.z_f, "sigma", "f = sigma(z_f)", _GATE),
    ("o", "o", "o", lambda e: e.z_o, "sigma", "o = sigma(z_o)", _GATE),
    ("g", "g", "g", lambda e: e.z_g, "tanh", "g = tanh(z_g)", "the candidate is a tanh, so that c can decrease"),
    ("tanh_c", "h", "c", lambda e: e.c, "tanh", "h = o * tanh(c)", "h = o * tanh(c)"),
]

LSTM_FORWARD = [
    *slice_orders(("i", "f", "o", "g"), ("z",), "4H", _LSTM_SLICES, {("i", "f", "g", "o"): "PyTorch's and Keras's"}),
    *nonlinearities(_LSTM_NONLINEARITIES),
    Mistake("sigmoid_sign", {k: (lambda k: lambda e: _neg_sigmoid(getattr(e, f"z_{k}")))(k) for k in "ifo"},
            "the gates equal sigma(-z): sigma(z) = 1 / (1 + exp(-z)), a minus sign was lost"),
    row("z_no_b", "z", lambda e: e.x @ e.Wx + e.h_prev @ e.Wh, "z is missing the bias: z = x Wx + h_prev Wh + b"),
    row("z_no_h", "z", lambda e: e.x @ e.Wx + e.b, "z is missing the recurrent term: z = x Wx + h_prev Wh + b"),
    row("z_c_prev", "z", lambda e: e.x @ e.Wx + e.c_prev @ e.Wh + e.b,
        "z used c_prev where h_prev belongs: z = x Wx + h_prev Wh + b"),
    row("z_Wx_for_Wh", "z", lambda e: e.x @ e.Wx + e.h_prev @ e.Wx + e.b,
        "z used Wx where Wh belongs: z = x Wx + h_prev Wh + b"),
    row("c_no_forget", "c", lambda e: e.i * e.g, "c is missing the forget path f * c_prev: c = f * c_prev + i * g"),
    row("c_no_input", "c", lambda e: e.f * e.c_prev + e.g, "c is missing the input gate: c = f * c_prev + i * g"),
    row("c_fg_swapped", "c", lambda e: e.i * e.c_prev + e.f * e.g,
        "c: i and f are swapped: c = f * c_prev + i * g (f keeps the old cell, i admits the candidate)"),
    row("h_c_prev", "tanh_c", lambda e: np.tanh(e.c_prev),
        "h used the previous cell state c_prev; h = o * tanh(c) takes the new c (one step off)"),
    row("h_no_o", "h", lambda e: e.tanh_c, "h is missing the output gate: h = o * tanh(c)"),
    row("h_article", "h", lambda e: e.f * e.h_prev + e.i * e.g,
        "h = f * h_prev + i * g is the recurrence without a cell state; the LSTM has c = f * c_prev + i * g and "
        "h = o * tanh(c)"),
]

# --------------------------------------------------------------------------- LSTM backward

_DC = "dc = dc_next + dh * o * (1 - tanh(c)^2)"
_DZ = "dz = [dz_i, dz_f, dz_o, dz_g]"
_LSTM_DERIVATIVES = [  # (line, the part it feeds, the stored output, its function)
    ("dsig_i", "dz_i", "i", "sigma"),
    ("dsig_f", "dz_f", "f", "sigma"),
    ("dsig_o", "dz_o", "o", "sigma"),
    ("dtanh_g", "dz_g", "g", "tanh"),
    ("dtanh_c", "dc (the path through h)", "tanh_c", "tanh"),
]
_LSTM_TRANSPOSES = [  # (line, left, W, blocks, added, equation)
    ("dx", "dz", "Wx", 4, None, "dx = dz @ Wx.T"),
    ("dh_prev", "dz", "Wh", 4, None, "dh_prev = dz @ Wh.T = sum over k of dz_k @ Wh_k.T"),
]

LSTM_BACKWARD = [
    *derivatives(_LSTM_DERIVATIVES, all_gates=True),
    *concat_orders("dz_cat", ("gate_dz_i", "gate_dz_f", "gate_dz_o", "gate_dz_g"), ("i", "f", "o", "g"), "dz",
                   _DZ, key="dz_order"),
    *transposes(_LSTM_TRANSPOSES),
    *reductions([("db", "dz", "db = dz.sum(axis=0), (4H,): the rows are the batch")]),
    row("dc_no_next", "dc", lambda e: e.dh * e.o * e.dtanh_c,
        f"dc is missing dc_next, the gradient from the next step's cell: {_DC}"),
    row("dc_no_h", "dc", lambda e: e.dc_next + 0 * e.dh, f"dc is missing the path through h: {_DC}"),
    row("dc_no_o", "dc", lambda e: e.dc_next + e.dh * e.dtanh_c, f"dc: the path through h is missing the factor o: {_DC}"),
    row("dc_c_for_tanh_c", "dtanh_c", lambda e: 1 - e.c**2,
        f"dc: the tanh derivative was taken as 1 - c^2; with h = o * tanh(c) it is 1 - tanh(c)^2: {_DC}"),
    row("do_no_tanh", "do", lambda e: e.dh + 0 * e.c,
        "tanh(c) is missing from dz_o: h = o * tanh(c) gives do = dh * tanh(c), then dz_o = do * o * (1 - o)"),
    row("do_c", "do", lambda e: e.dh * e.c, "dz_o used c where tanh(c) belongs: h = o * tanh(c) gives do = dh * tanh(c)"),
    Mistake("di_dg_swapped", {"di": lambda e: e.dc * e.i, "dg": lambda e: e.dc * e.g},
            "di and dg are swapped: c = f * c_prev + i * g gives di = dc * g and dg = dc * i"),
    row("df_c", "df", lambda e: e.dc * e.c, "dz_f used this step's c where c_prev belongs (one step off): df = dc * c_prev"),
    row("dc_prev_no_f", "dc_prev", lambda e: e.dc + 0.0,
        "dc_prev is missing the forget-gate path: c = f * c_prev + i * g, so dc_prev = dc * f "
        "(it came out as dc, without the factor f)"),
    row("dc_prev_zero", "dc_prev", lambda e: np.zeros_like(e.dc),
        "dc_prev is zero: the forget-gate path carries the gradient back to the previous cell, dc_prev = dc * f"),
    row("dc_prev_next", "dc_prev", lambda e: e.dc_next * e.f,
        f"dc_prev used dc_next alone; the whole {_DC} flows back through the forget gate: dc_prev = dc * f"),
    row("dx_Wh", "dx", lambda e: e.dz @ e.Wh.T, "dx used Wh where Wx belongs: dx = dz @ Wx.T"),
    row("dh_Wx", "dh_prev", lambda e: e.dz @ e.Wx.T, "dh_prev used Wx where Wh belongs: dh_prev = dz @ Wh.T"),
    row("dWx_h", "dWx", lambda e: e.h_prev.T @ e.dz, "dWx used h_prev where x belongs: dWx = x.T @ dz"),
    row("dWh_x", "dWh", lambda e: e.x.T @ e.dz, "dWh used x where h_prev belongs: dWh = h_prev.T @ dz"),
    row("dWh_c_prev", "dWh", lambda e: e.c_prev.T @ e.dz, "dWh used c_prev where h_prev belongs: dWh = h_prev.T @ dz"),
]

# --------------------------------------------------------------------------- GRU forward

_GRU_SLICES = "r = sigma(a_r + u_r) with a_r = a[:, 0:H], z from [:, H:2H], n from [:, 2H:3H]"
_GRU_NONLINEARITIES = [
    ("r", "r", "r", lambda e: e.a_r + e.u_r, "sigma", "r = sigma(a_r + u_r)", _GATE),
    ("z", "z", "z", lambda e: e.a_z + e.u_z, "sigma", "z = sigma(a_z + u_z)", _GATE),
    ("n", "n", "n", lambda e: e.a_n + e.r * e.u_n, "tanh", "n = tanh(a_n + r * u_n)", "the candidate is a tanh"),
]

GRU_FORWARD = [
    *slice_orders(("r", "z", "n"), ("a", "u"), "3H", _GRU_SLICES),
    *nonlinearities(_GRU_NONLINEARITIES),
    Mistake("sigmoid_sign", {"r": lambda e: _neg_sigmoid(e.a_r + e.u_r), "z": lambda e: _neg_sigmoid(e.a_z + e.u_z)},
            "the gates equal sigma(-(a + u)): sigma(v) = 1 / (1 + exp(-v)), a minus sign was lost"),
    row("n_reset_before", "n", lambda e: np.tanh(e.a_n + (e.r * e.h_prev) @ e.Wh[:, 2 * e.H :] + e.bh[2 * e.H :]),
        "n: the reset gate was applied to h_prev before the product, tanh(a_n + (r * h_prev) Wh_n + bh_n) "
        "(Cho et al.'s form); here, as in PyTorch, r multiplies the whole recurrent term: "
        "n = tanh(a_n + r * (h_prev Wh_n + bh_n))"),
    row("n_reset_no_bias", "n", lambda e: np.tanh(e.a_n + e.r * (e.u_n - e.bh[2 * e.H :]) + e.bh[2 * e.H :]),
        "n: r must multiply bh_n too: n = tanh(a_n + r * u_n) with u_n = h_prev Wh_n + bh_n"),
    row("n_no_reset", "n", lambda e: np.tanh(e.a_n + e.u_n), "n is missing the reset gate: n = tanh(a_n + r * u_n)"),
    row("no_bx", "a", lambda e: e.x @ e.Wx, "the input bias bx is missing: a = x Wx + bx"),
    row("no_bh", "u", lambda e: e.h_prev @ e.Wh, "the recurrent bias bh is missing: u = h_prev Wh + bh"),
    row("h_z_swapped", "h", lambda e: e.z * e.n + (1 - e.z) * e.h_prev,
        "h: z and 1 - z are swapped; here (as in PyTorch) h = (1 - z) * n + z * h_prev, so z near 1 keeps the old "
        "state"),
    row("h_no_skip", "h", lambda e: (1 - e.z) * e.n, "h is missing z * h_prev: h = (1 - z) * n + z * h_prev"),
]

# --------------------------------------------------------------------------- GRU backward

_GRU_DERIVATIVES = [
    ("dsig_r", "da_r", "r", "sigma"),
    ("dsig_z", "da_z", "z", "sigma"),
    ("dtanh_n", "da_n", "n", "tanh"),
]
_DH = "dh_prev = du @ Wh.T + dh * z"
_GRU_TRANSPOSES = [
    ("dx", "da", "Wx", 3, None, "dx = da @ Wx.T"),
    ("dh_prev", "du", "Wh", 3, "dh_skip", _DH),
]
_GATE_DA = ("gate_da_r", "gate_da_z", "gate_da_n")
_GATE_DU = ("gate_da_r", "gate_da_z", "gate_du_n")


def _both_orders():
    """The same wrong order in da and in du (one helper used for both)."""
    out = []
    for m_a, m_u in zip(concat_orders("da_cat", _GATE_DA, ("r", "z", "n"), "da", "da = [da_r, da_z, da_n]"),
                        concat_orders("du_cat", _GATE_DU, ("r", "z", "n"), "du", "du = [da_r, da_z, du_n]")):
        out.append(Mistake(m_a.key.replace("da_cat", "dadu_order"), {**m_a.lines, **m_u.lines},
                           m_a.words.replace("da was put", "da and du were put").replace(
                               "da = [da_r, da_z, da_n]", "da = [da_r, da_z, da_n], du = [da_r, da_z, du_n]"),
                           "concatenation order"))  # fmt: skip
    return out


GRU_BACKWARD = [
    *derivatives(_GRU_DERIVATIVES, all_gates=True),
    *concat_orders("da_cat", _GATE_DA, ("r", "z", "n"), "da", "da = [da_r, da_z, da_n]", key="da_order"),
    *concat_orders("du_cat", _GATE_DU, ("r", "z", "n"), "du", "du = [da_r, da_z, du_n]", key="du_order"),
    *_both_orders(),
    *transposes(_GRU_TRANSPOSES),
    *reductions([("dbx", "da", "dbx = da.sum(axis=0), (3H,): the rows are the batch"),
                 ("dbh", "du", "dbh = du.sum(axis=0), (3H,): the rows are the batch")]),
    row("dz_sign", "dz", lambda e: e.dh * (e.n - e.h_prev),
        "the sign of dz is flipped: h = (1 - z) * n + z * h_prev gives dz = dh * (h_prev - n), not dh * (n - h_prev)"),
    row("dn_z", "dn", lambda e: e.dh * e.z, "dn used z where 1 - z belongs: h = (1 - z) * n + z * h_prev gives "
        "dn = dh * (1 - z)"),
    row("dr_no_bias", "dr", lambda e: e.gate_da_n * (e.u_n - e.bh[2 * e.H :]),
        "da_r: dr used h_prev Wh_n without bh_n; n = tanh(a_n + r * u_n) with u_n = h_prev Wh_n + bh_n "
        "gives dr = da_n * u_n"),
    row("du_n_no_r", "gate_du_n", lambda e: e.gate_da_n + 0.0,
        "du_n is missing the factor r: n = tanh(a_n + r * u_n) gives du_n = da_n * r"),
    row("du_rz_zero", "du_cat", lambda e: np.concatenate([0 * e.gate_da_r, 0 * e.gate_da_z, e.gate_du_n], axis=1),
        "du: its r and z blocks are da_r and da_z (r and z see a + u, so the same gradient reaches both); "
        "they came out zero"),
    row("no_skip", "dh_skip", lambda e: 0 * e.dh,
        f"dh_prev is missing the direct path dh * z: h = (1 - z) * n + z * h_prev, so {_DH}"),
    row("skip_1mz", "dh_skip", lambda e: e.dh * (1 - e.z),
        "dh_prev: the direct path is dh * z, not dh * (1 - z): h = (1 - z) * n + z * h_prev"),
    row("dh_da", "dh_prev", lambda e: e.da @ e.Wh.T + e.dh_skip,
        f"dh_prev used da where du belongs: {_DH} (du_n = da_n * r)"),
    row("dh_Wx", "dh_prev", lambda e: e.du @ e.Wx.T + e.dh_skip, f"dh_prev used Wx where Wh belongs: {_DH}"),
    row("dx_du", "dx", lambda e: e.du @ e.Wx.T, "dx used du where da belongs: dx = da @ Wx.T"),
    row("dx_Wh", "dx", lambda e: e.da @ e.Wh.T, "dx used Wh where Wx belongs: dx = da @ Wx.T"),
    row("dWx_du", "dWx", lambda e: e.x.T @ e.du, "dWx used du where da belongs: dWx = x.T @ da"),
    row("dWh_da", "dWh", lambda e: e.h_prev.T @ e.da, "dWh used da where du belongs: dWh = h_prev.T @ du"),
]

#: ``{step: {key: Mistake}}``, the whole catalogue.
MISTAKES = {
    step: {m.key: m for m in table}
    for step, table in (("lstm_forward", LSTM_FORWARD), ("lstm_backward", LSTM_BACKWARD),
                        ("gru_forward", GRU_FORWARD), ("gru_backward", GRU_BACKWARD))
}  # fmt: skip
