"""The reference steps written as named lines, so that a mistake can replace one line.

Each step is an ordered dict ``name -> line``, a line being a function of an
``Env`` (read ``e.x``, ``e.z_i``, ...). An ``Env`` computes a name the first
time it is read, from its line, or from the mistake that replaces that line,
unless the name was given (your value of a part, where the checker could read
it): so ``evaluate(step, inputs, mistake, yours)["h"]`` is the h that follows
from your o and c, with the mistake's lines in place of the reference's. The
parts the checker reads (i, f, ..., dz_i, dx, ...) are names among the lines;
the others (z, dc, ...) are what you compute on the way.

Which parts a part is computed from (``upstream``) is traced by reading the
names each line reads: a part is judged only on your values of those.
"""

from __future__ import annotations

import numpy as np

from ..cells.lstm import sigmoid

__all__ = ["Env", "evaluate", "trace", "STEPS", "GATES", "inputs_of"]

GATES = {"lstm": ("i", "f", "o", "g"), "gru": ("r", "z", "n")}


class Env(dict):
    """Names -> arrays, computed on first reading from ``lines`` (``overrides`` first); records what is read."""

    def __init__(self, given, lines, overrides=None):
        super().__init__(given)
        self._lines, self._overrides = lines, overrides or {}
        self.reads = None

    def __getattr__(self, name):
        if name.startswith("_") and name not in self._lines:
            raise AttributeError(name)
        if self.reads is not None:
            self.reads.add(name)
        if name not in self:
            line = self._overrides.get(name) or self._lines.get(name)
            if line is None:
                raise AttributeError(name)
            self[name] = line(self)
        return self[name]


def evaluate(step, given, overrides=None, yours=None):
    """An ``Env`` over the lines of ``step`` with ``given`` inputs, ``overrides`` lines and ``yours`` values."""
    return Env({**given, **(yours or {})}, STEPS[step], overrides)


def trace(step, given):
    """``{line: the names it reads}`` for the reference lines of ``step``."""
    lines = STEPS[step]
    env = Env(given, lines)
    deps = {}
    for name, line in lines.items():
        env.reads = set()
        env[name] = line(env)
        deps[name] = env.reads
    return deps


# --------------------------------------------------------------------------- the inputs of each step


def inputs_of(step, probe):
    """The names a step's lines start from, for one probe (sizes included)."""
    B, D, H = probe.B, probe.D, probe.H
    sizes = {"B": B, "D": D, "H": H}
    if step == "lstm_forward":
        return dict(zip(("x", "h_prev", "c_prev", "Wx", "Wh", "b"), probe.args), **sizes)
    if step == "gru_forward":
        return dict(zip(("x", "h_prev", "Wx", "Wh", "bx", "bh"), probe.args), **sizes)
    if step == "lstm_backward":
        dh, dc_next, cache = probe.args
        names = ("x", "h_prev", "c_prev", "Wx", "Wh", "i", "f", "o", "g", "c")
        return dict(zip(names, cache), dh=dh, dc_next=dc_next, b=probe.params[5], **sizes)
    dh, cache = probe.args
    names = ("x", "h_prev", "Wx", "Wh", "r", "z", "n", "u_n")
    return dict(zip(names, cache), dh=dh, bx=probe.params[4], bh=probe.params[5], **sizes)


# --------------------------------------------------------------------------- LSTM

LSTM_FORWARD = {
    "z": lambda e: e.x @ e.Wx + e.h_prev @ e.Wh + e.b,
    **{f"z_{g}": (lambda k: lambda e: e.z[:, k * e.H : (k + 1) * e.H])(k) for k, g in enumerate("ifog")},
    "i": lambda e: sigmoid(e.z_i),
    "f": lambda e: sigmoid(e.z_f),
    "o": lambda e: sigmoid(e.z_o),
    "g": lambda e: np.tanh(e.z_g),
    "c": lambda e: e.f * e.c_prev + e.i * e.g,
    "tanh_c": lambda e: np.tanh(e.c),
    "h": lambda e: e.o * e.tanh_c,
}

LSTM_BACKWARD = {
    "tanh_c": lambda e: np.tanh(e.c),
    "do": lambda e: e.dh * e.tanh_c,
    "dtanh_c": lambda e: 1 - e.tanh_c**2,
    "dc": lambda e: e.dc_next + e.dh * e.o * e.dtanh_c,
    "di": lambda e: e.dc * e.g,
    "df": lambda e: e.dc * e.c_prev,
    "dg": lambda e: e.dc * e.i,
    "dc_prev": lambda e: e.dc * e.f,
    "dsig_i": lambda e: e.i * (1 - e.i),
    "dsig_f": lambda e: e.f * (1 - e.f),
    "dsig_o": lambda e: e.o * (1 - e.o),
    "dtanh_g": lambda e: 1 - e.g**2,
    "gate_dz_i": lambda e: e.di * e.dsig_i,
    "gate_dz_f": lambda e: e.df * e.dsig_f,
    "gate_dz_o": lambda e: e.do * e.dsig_o,
    "gate_dz_g": lambda e: e.dg * e.dtanh_g,
    # dz = [dz_i, dz_f, dz_o, dz_g]: the blocks of what you concatenated are the parts dz_i, ...
    "dz_cat": lambda e: np.concatenate([e.gate_dz_i, e.gate_dz_f, e.gate_dz_o, e.gate_dz_g], axis=1),
    **{f"dz_{g}": (lambda k: lambda e: e.dz_cat[:, k * e.H : (k + 1) * e.H])(k) for k, g in enumerate("ifog")},
    "dz": lambda e: np.concatenate([e.dz_i, e.dz_f, e.dz_o, e.dz_g], axis=1),
    "dx": lambda e: e.dz @ e.Wx.T,
    "dh_prev": lambda e: e.dz @ e.Wh.T,
    "dWx": lambda e: e.x.T @ e.dz,
    "dWh": lambda e: e.h_prev.T @ e.dz,
    "db": lambda e: e.dz.sum(axis=0),
}

# --------------------------------------------------------------------------- GRU

GRU_FORWARD = {
    "a": lambda e: e.x @ e.Wx + e.bx,
    "u": lambda e: e.h_prev @ e.Wh + e.bh,
    **{f"a_{g}": (lambda k: lambda e: e.a[:, k * e.H : (k + 1) * e.H])(k) for k, g in enumerate("rzn")},
    **{f"u_{g}": (lambda k: lambda e: e.u[:, k * e.H : (k + 1) * e.H])(k) for k, g in enumerate("rzn")},
    "r": lambda e: sigmoid(e.a_r + e.u_r),
    "z": lambda e: sigmoid(e.a_z + e.u_z),
    "n": lambda e: np.tanh(e.a_n + e.r * e.u_n),
    "h": lambda e: (1 - e.z) * e.n + e.z * e.h_prev,
}

GRU_BACKWARD = {
    "dn": lambda e: e.dh * (1 - e.z),
    "dz": lambda e: e.dh * (e.h_prev - e.n),
    "dh_skip": lambda e: e.dh * e.z,
    "dtanh_n": lambda e: 1 - e.n**2,
    "gate_da_n": lambda e: e.dn * e.dtanh_n,
    "dr": lambda e: e.gate_da_n * e.u_n,
    "gate_du_n": lambda e: e.gate_da_n * e.r,
    "dsig_r": lambda e: e.r * (1 - e.r),
    "dsig_z": lambda e: e.z * (1 - e.z),
    "gate_da_r": lambda e: e.dr * e.dsig_r,
    "gate_da_z": lambda e: e.dz * e.dsig_z,
    # da = [da_r, da_z, da_n], du = [da_r, da_z, du_n]: their blocks are the parts da_r, ..., du_n
    "da_cat": lambda e: np.concatenate([e.gate_da_r, e.gate_da_z, e.gate_da_n], axis=1),
    "du_cat": lambda e: np.concatenate([e.gate_da_r, e.gate_da_z, e.gate_du_n], axis=1),
    **{f"da_{g}": (lambda k: lambda e: e.da_cat[:, k * e.H : (k + 1) * e.H])(k) for k, g in enumerate("rzn")},
    **{f"du_{g}": (lambda k: lambda e: e.du_cat[:, k * e.H : (k + 1) * e.H])(k) for k, g in enumerate("rzn")},
    "da": lambda e: np.concatenate([e.da_r, e.da_z, e.da_n], axis=1),
    "du": lambda e: np.concatenate([e.du_r, e.du_z, e.du_n], axis=1),
    "dx": lambda e: e.da @ e.Wx.T,
    "dh_prev": lambda e: e.du @ e.Wh.T + e.dh_skip,
    "dWx": lambda e: e.x.T @ e.da,
    "dWh": lambda e: e.h_prev.T @ e.du,
    "dbx": lambda e: e.da.sum(axis=0),
    "dbh": lambda e: e.du.sum(axis=0),
}

STEPS = {"lstm_forward": LSTM_FORWARD, "lstm_backward": LSTM_BACKWARD,
         "gru_forward": GRU_FORWARD, "gru_backward": GRU_BACKWARD}  # fmt: skip
