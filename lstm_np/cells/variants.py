"""Variants of the LSTM cell, one step each, forward and backward, written as the equations.

Which parts of the cell matter? Greff et al. ("LSTM: A Search Space Odyssey",
IEEE TNNLS 2017) took the cell apart one piece at a time and measured. This
module holds the pieces to do the same here: each variant below is the
standard step of ``lstm_np.cells.lstm`` with one change, written out in full
(one line per equation, the same symbols), forward and backward.

The standard step, for reference (gate order i, f, o, g)::

    z = x Wx + h_prev Wh + b
    i = sigma(z_i)   f = sigma(z_f)   o = sigma(z_o)   g = tanh(z_g)
    c = f * c_prev + i * g
    h = o * tanh(c)

=================  ==========================================  ===========
name               the change                                  gates in z
=================  ==========================================  ===========
``lstm``           none (``cells.lstm`` itself)                i, f, o, g
``peephole``       i, f see c_prev and o sees c, through       i, f, o, g
                   diagonal weights p_i, p_f, p_o (H,)
``coupled``        i = 1 - f (one gate decides both)           f, o, g
``no_forget``      f = 1 (the cell never forgets)              i, o, g
``no_input``       i = 1 (every candidate is written)          f, o, g
``no_output``      o = 1 (h = tanh(c))                         i, f, g
``no_input_act``   g = z_g (no tanh on the candidate)          i, f, o, g
``no_output_act``  h = o * c (no tanh on the cell)             i, f, o, g
``article``        h = f * h_prev + i * g, no cell state       i, f, o, g
                   (``cells.article``; o computed, unused)
=================  ==========================================  ===========

A gate that a variant drops has no parameters: its block is simply absent
from ``Wx`` (D, kH), ``Wh`` (H, kH) and ``b`` (kH,), k the number of gates
in the last column, in that order. (The article's cell is the exception: it
is kept as the article wrote it, with an output gate whose weights exist
and whose gradient is exactly zero.)

Every variant has the same interface, so a sequence layer
(``lstm_np.sequence.variants.VariantLSTM``) can run any of them::

    h, c, cache = variant.step_forward(x, h_prev, c_prev, p)
    dx, dh_prev, dc_prev, grads = variant.step_backward(dh, dc_next, cache)

with ``p`` the dict of parameters (``Wx``, ``Wh``, ``b``, and ``p_i``,
``p_f``, ``p_o`` for the peepholes) and ``grads`` a dict of the same names.
The article's cell has no c: it returns c = 0 and dc_prev = 0.

All backward passes end the same way, through z = x Wx + h_prev Wh + b
(``_through_z``)::

    dx = dz Wx^T     dh_prev = dz Wh^T     dWx = x^T dz     dWh = h_prev^T dz     db = sum_b dz

This module imports NumPy only (and its sibling cells).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import article
from . import lstm
from .lstm import sigmoid

__all__ = ["Variant", "VARIANTS", "PEEPHOLES", "split_gates"]

#: Names of the peephole weights, each (H,).
PEEPHOLES = ("p_i", "p_f", "p_o")


def split_gates(z, gates):
    """The blocks of the pre-activations z (B, kH), one (B, H) view per gate name."""
    H = z.shape[1] // len(gates)
    return [z[:, k * H : (k + 1) * H] for k in range(len(gates))]


def _through_z(dz_blocks, x, h_prev, Wx, Wh):
    """Backward through z = x Wx + h_prev Wh + b, given each gate's dz (B, H) in order.

    Returns dx (B, D), dh_prev (B, H) and grads ``{"Wx", "Wh", "b"}``.
    """
    dz = np.concatenate(dz_blocks, axis=1)
    dx = dz @ Wx.T
    dh_prev = dz @ Wh.T
    grads = {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": dz.sum(axis=0)}
    return dx, dh_prev, grads


# --------------------------------------------------------------------------- lstm


def lstm_forward(x, h_prev, c_prev, p):
    """The standard step: ``cells.lstm.step_forward``."""
    return lstm.step_forward(x, h_prev, c_prev, p["Wx"], p["Wh"], p["b"])


def lstm_backward(dh, dc_next, cache):
    """The standard step: ``cells.lstm.step_backward``."""
    return lstm.step_backward(dh, dc_next, cache)


# --------------------------------------------------------------------------- peephole


def peephole_forward(x, h_prev, c_prev, p):
    """Peephole connections: the gates see the cell (Gers and Schmidhuber, 2000).

    ::

        z = x Wx + h_prev Wh + b                      (B, 4H), gates i, f, o, g
        i = sigma(z_i + p_i * c_prev)
        f = sigma(z_f + p_f * c_prev)
        g = tanh(z_g)
        c = f * c_prev + i * g
        o = sigma(z_o + p_o * c)                      o sees the new cell
        h = o * tanh(c)

    ``p_i, p_f, p_o`` (H,) are diagonal: unit k's gates see only its own cell.
    """
    z_i, z_f, z_o, z_g = split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], "ifog")
    i = sigmoid(z_i + p["p_i"] * c_prev)
    f = sigmoid(z_f + p["p_f"] * c_prev)
    g = np.tanh(z_g)
    c = f * c_prev + i * g
    o = sigmoid(z_o + p["p_o"] * c)
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, p, i, f, o, g, c)


def peephole_backward(dh, dc_next, cache):
    """Backward of ``peephole_forward``: c now also reaches the loss through o,
    and c_prev through i and f.

    ::

        do      = dh * tanh(c)
        dz_o    = do * o * (1 - o)
        dc      = dc_next + dh * o * (1 - tanh(c)^2) + dz_o * p_o
        di, df, dg = dc * g, dc * c_prev, dc * i
        dz_i, dz_f, dz_g = di * i (1 - i), df * f (1 - f), dg * (1 - g^2)
        dc_prev = dc * f + dz_i * p_i + dz_f * p_f
        dp_i = sum_b dz_i * c_prev,  dp_f = sum_b dz_f * c_prev,  dp_o = sum_b dz_o * c
    """
    x, h_prev, c_prev, p, i, f, o, g, c = cache
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    dz_o = do * o * (1 - o)
    dc = dc_next + dh * o * (1 - tanh_c**2) + dz_o * p["p_o"]
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dz_i = di * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_g = dg * (1 - g**2)
    dc_prev = dc * f + dz_i * p["p_i"] + dz_f * p["p_f"]
    dx, dh_prev, grads = _through_z([dz_i, dz_f, dz_o, dz_g], x, h_prev, p["Wx"], p["Wh"])
    grads.update(p_i=(dz_i * c_prev).sum(axis=0), p_f=(dz_f * c_prev).sum(axis=0), p_o=(dz_o * c).sum(axis=0))
    return dx, dh_prev, dc_prev, grads


# --------------------------------------------------------------------------- coupled


def coupled_forward(x, h_prev, c_prev, p):
    """Coupled input and forget gates (CIFG): i = 1 - f, so what is written
    is exactly what is forgotten.

    ::

        z = x Wx + h_prev Wh + b                      (B, 3H), gates f, o, g
        f = sigma(z_f)   o = sigma(z_o)   g = tanh(z_g)
        i = 1 - f
        c = f * c_prev + i * g
        h = o * tanh(c)
    """
    z_f, z_o, z_g = split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], "fog")
    f = sigmoid(z_f)
    o = sigmoid(z_o)
    g = np.tanh(z_g)
    i = 1 - f
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, p, i, f, o, g, c)


def coupled_backward(dh, dc_next, cache):
    """Backward of ``coupled_forward``: f reaches c twice, directly and as i = 1 - f.

    ::

        df = dc * c_prev - dc * g          (the second term: di * d(1 - f)/df)
    """
    x, h_prev, c_prev, p, i, f, o, g, c = cache
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    dc = dc_next + dh * o * (1 - tanh_c**2)
    di = dc * g
    df = dc * c_prev - di
    dg = dc * i
    dc_prev = dc * f
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dg * (1 - g**2)
    dx, dh_prev, grads = _through_z([dz_f, dz_o, dz_g], x, h_prev, p["Wx"], p["Wh"])
    return dx, dh_prev, dc_prev, grads


# --------------------------------------------------------------------------- no forget gate


def no_forget_forward(x, h_prev, c_prev, p):
    """No forget gate (f = 1), the LSTM of Hochreiter and Schmidhuber (1997):
    the cell only accumulates.

    ::

        z = x Wx + h_prev Wh + b                      (B, 3H), gates i, o, g
        i = sigma(z_i)   o = sigma(z_o)   g = tanh(z_g)
        c = c_prev + i * g
        h = o * tanh(c)
    """
    z_i, z_o, z_g = split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], "iog")
    i = sigmoid(z_i)
    o = sigmoid(z_o)
    g = np.tanh(z_g)
    c = c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, p, i, o, g, c)


def no_forget_backward(dh, dc_next, cache):
    """Backward of ``no_forget_forward``: dc_prev = dc, undamped."""
    x, h_prev, c_prev, p, i, o, g, c = cache
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    dc = dc_next + dh * o * (1 - tanh_c**2)
    di = dc * g
    dg = dc * i
    dc_prev = dc
    dz_i = di * i * (1 - i)
    dz_o = do * o * (1 - o)
    dz_g = dg * (1 - g**2)
    dx, dh_prev, grads = _through_z([dz_i, dz_o, dz_g], x, h_prev, p["Wx"], p["Wh"])
    return dx, dh_prev, dc_prev, grads


# --------------------------------------------------------------------------- no input gate


def no_input_forward(x, h_prev, c_prev, p):
    """No input gate (i = 1): every candidate is written into the cell.

    ::

        z = x Wx + h_prev Wh + b                      (B, 3H), gates f, o, g
        f = sigma(z_f)   o = sigma(z_o)   g = tanh(z_g)
        c = f * c_prev + g
        h = o * tanh(c)
    """
    z_f, z_o, z_g = split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], "fog")
    f = sigmoid(z_f)
    o = sigmoid(z_o)
    g = np.tanh(z_g)
    c = f * c_prev + g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, p, f, o, g, c)


def no_input_backward(dh, dc_next, cache):
    """Backward of ``no_input_forward``: dg = dc."""
    x, h_prev, c_prev, p, f, o, g, c = cache
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    dc = dc_next + dh * o * (1 - tanh_c**2)
    df = dc * c_prev
    dg = dc
    dc_prev = dc * f
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dg * (1 - g**2)
    dx, dh_prev, grads = _through_z([dz_f, dz_o, dz_g], x, h_prev, p["Wx"], p["Wh"])
    return dx, dh_prev, dc_prev, grads


# --------------------------------------------------------------------------- no output gate


def no_output_forward(x, h_prev, c_prev, p):
    """No output gate (o = 1): the whole (squashed) cell is shown.

    ::

        z = x Wx + h_prev Wh + b                      (B, 3H), gates i, f, g
        i = sigma(z_i)   f = sigma(z_f)   g = tanh(z_g)
        c = f * c_prev + i * g
        h = tanh(c)
    """
    z_i, z_f, z_g = split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], "ifg")
    i = sigmoid(z_i)
    f = sigmoid(z_f)
    g = np.tanh(z_g)
    c = f * c_prev + i * g
    h = np.tanh(c)
    return h, c, (x, h_prev, c_prev, p, i, f, g, h)


def no_output_backward(dh, dc_next, cache):
    """Backward of ``no_output_forward``: dc = dc_next + dh * (1 - h^2), as h = tanh(c)."""
    x, h_prev, c_prev, p, i, f, g, h = cache
    dc = dc_next + dh * (1 - h**2)
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    dz_i = di * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_g = dg * (1 - g**2)
    dx, dh_prev, grads = _through_z([dz_i, dz_f, dz_g], x, h_prev, p["Wx"], p["Wh"])
    return dx, dh_prev, dc_prev, grads


# --------------------------------------------------------------------------- no input activation


def no_input_act_forward(x, h_prev, c_prev, p):
    """No input activation: the candidate is the raw pre-activation, g = z_g.

    ::

        z = x Wx + h_prev Wh + b                      (B, 4H), gates i, f, o, g
        i = sigma(z_i)   f = sigma(z_f)   o = sigma(z_o)
        g = z_g
        c = f * c_prev + i * g
        h = o * tanh(c)
    """
    z_i, z_f, z_o, z_g = split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], "ifog")
    i = sigmoid(z_i)
    f = sigmoid(z_f)
    o = sigmoid(z_o)
    g = z_g
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, p, i, f, o, g, c)


def no_input_act_backward(dh, dc_next, cache):
    """Backward of ``no_input_act_forward``: dz_g = dg (no tanh' factor)."""
    x, h_prev, c_prev, p, i, f, o, g, c = cache
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    dc = dc_next + dh * o * (1 - tanh_c**2)
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    dz_i = di * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dg
    dx, dh_prev, grads = _through_z([dz_i, dz_f, dz_o, dz_g], x, h_prev, p["Wx"], p["Wh"])
    return dx, dh_prev, dc_prev, grads


# --------------------------------------------------------------------------- no output activation


def no_output_act_forward(x, h_prev, c_prev, p):
    """No output activation: h = o * c, the cell shown unsquashed.

    ::

        z = x Wx + h_prev Wh + b                      (B, 4H), gates i, f, o, g
        i = sigma(z_i)   f = sigma(z_f)   o = sigma(z_o)   g = tanh(z_g)
        c = f * c_prev + i * g
        h = o * c
    """
    z_i, z_f, z_o, z_g = split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], "ifog")
    i = sigmoid(z_i)
    f = sigmoid(z_f)
    o = sigmoid(z_o)
    g = np.tanh(z_g)
    c = f * c_prev + i * g
    h = o * c
    return h, c, (x, h_prev, c_prev, p, i, f, o, g, c)


def no_output_act_backward(dh, dc_next, cache):
    """Backward of ``no_output_act_forward``: do = dh * c, dc = dc_next + dh * o."""
    x, h_prev, c_prev, p, i, f, o, g, c = cache
    do = dh * c
    dc = dc_next + dh * o
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    dz_i = di * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dg * (1 - g**2)
    dx, dh_prev, grads = _through_z([dz_i, dz_f, dz_o, dz_g], x, h_prev, p["Wx"], p["Wh"])
    return dx, dh_prev, dc_prev, grads


# --------------------------------------------------------------------------- the article's recurrence


def article_forward(x, h_prev, c_prev, p):
    """The article's recurrence, ``cells.article.step_forward``: h = f * h_prev + i * g.

    There is no cell state: ``c_prev`` is not read and the returned c is zeros
    (so that the interface stays that of the other variants).
    """
    h, cache = article.step_forward(x, h_prev, p["Wx"], p["Wh"], p["b"])
    return h, np.zeros_like(h), cache


def article_backward(dh, dc_next, cache):
    """``cells.article.step_backward``; c is the constant 0, so ``dc_next`` is
    not used and dc_prev is zeros. The o columns of the gradients are zero."""
    dx, dh_prev, grads = article.step_backward(dh, cache)
    return dx, dh_prev, np.zeros_like(dh_prev), grads


# --------------------------------------------------------------------------- the registry


class Variant(NamedTuple):
    """One variant of the cell.

    Attributes
    ----------
    name : str
    gates : str
        The gate blocks of ``Wx``, ``Wh``, ``b`` and z, in order (e.g. "fog").
    peepholes : tuple of str
        Names of its (H,) peephole weights (empty but for ``peephole``).
    has_cell : bool
        False for the article's recurrence, whose only state is h.
    step_forward : callable
        ``(x (B, D), h_prev (B, H), c_prev (B, H), p) -> h, c, cache``.
    step_backward : callable
        ``(dh (B, H), dc_next (B, H), cache) -> dx, dh_prev, dc_prev, grads``.
    change : str
        The change from the standard cell, in one line.
    """

    name: str
    gates: str
    peepholes: tuple
    has_cell: bool
    step_forward: Callable
    step_backward: Callable
    change: str


#: Every variant, by name; ``"lstm"`` first (the reference the others are compared with).
VARIANTS = {
    v.name: v
    for v in (
        Variant("lstm", "ifog", (), True, lstm_forward, lstm_backward, "the standard cell"),
        Variant("peephole", "ifog", PEEPHOLES, True, peephole_forward, peephole_backward,
                "gates see the cell: i, f via p * c_prev, o via p_o * c"),
        Variant("coupled", "fog", (), True, coupled_forward, coupled_backward, "i = 1 - f"),
        Variant("no_forget", "iog", (), True, no_forget_forward, no_forget_backward, "f = 1"),
        Variant("no_input", "fog", (), True, no_input_forward, no_input_backward, "i = 1"),
        Variant("no_output", "ifg", (), True, no_output_forward, no_output_backward, "o = 1"),
        Variant("no_input_act", "ifog", (), True, no_input_act_forward, no_input_act_backward, "g = z_g"),
        Variant("no_output_act", "ifog", (), True, no_output_act_forward, no_output_act_backward, "h = o * c"),
        Variant("article", "ifog", (), False, article_forward, article_backward,
                "h = f * h_prev + i * g, no cell state (o unused)"),
    )
}
