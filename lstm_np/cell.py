"""One step of the LSTM cell: forward and backward.

The standard LSTM (no peepholes), for one time step and a batch of B rows::

    z = x Wx + h_prev Wh + b                     pre-activations, (B, 4H)
    i = sigma(z_i)                               input gate
    f = sigma(z_f)                               forget gate
    o = sigma(z_o)                               output gate
    g = tanh(z_g)                                candidate cell state
    c = f * c_prev + i * g                       cell state
    h = o * tanh(c)                              hidden state

Gate order in every fused array (``Wx``, ``Wh``, ``b``, ``z``) is
**i, f, o, g**: the three sigmoid gates first, so one ``sigmoid`` call covers
the contiguous slice ``[:, :3H]`` and one ``tanh`` the slice ``[:, 3H:]``.
(PyTorch and Keras use i, f, g, o; ``lstm_np.layer`` converts.)

This module imports NumPy only. ``step_forward``/``step_backward`` are the
readable single-step reference; the sequence layer (``lstm_np.layer``) uses
the same two element-wise halves, ``gates_forward`` and ``gates_backward``,
around GEMMs batched over time.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GATES",
    "sigmoid",
    "gates_forward",
    "gates_backward",
    "step_forward",
    "step_backward",
]

#: Gate order along the fused 4H axis.
GATES = ("i", "f", "o", "g")


def sigmoid(z, out=None):
    """Logistic sigmoid 1 / (1 + exp(-z)), without overflow for any finite z.

    Written as (1 + tanh(z / 2)) / 2, which is the same function but never
    evaluates exp of a large positive number (exp(1000) overflows; tanh(500)
    is just 1.0).

    Parameters
    ----------
    z : ndarray, any shape
    out : ndarray, same shape and dtype as z, optional
        Where to write the result (may be ``z`` itself).

    Returns
    -------
    ndarray, same shape and dtype as z
    """
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def gates_forward(z, c_prev, out=None, *, state_out=None):
    """Element-wise half of a step: from pre-activations to the new state.

    Parameters
    ----------
    z : (B, 4H) ndarray
        Pre-activations ``x Wx + h_prev Wh + b``, gate order i, f, o, g.
        Left unchanged unless ``out`` is ``z``.
    c_prev : (B, H) ndarray
        Previous cell state.
    out : (B, 4H) ndarray, optional
        Buffer for the gate activations (may be ``z`` itself, to overwrite).
    state_out : tuple of three (B, H) ndarrays, optional
        Buffers for ``c``, ``tanh_c`` and ``h`` (the sequence layer passes
        slices of its per-sequence arrays, so nothing is copied).

    Returns
    -------
    act : (B, 4H) ndarray
        Gate activations i, f, o, g (after the nonlinearity); the backward
        pass takes the derivatives from these stored values.
    c : (B, H) ndarray
        New cell state.
    tanh_c : (B, H) ndarray
        tanh(c), kept for the backward pass.
    h : (B, H) ndarray
        New hidden state.
    """
    H = c_prev.shape[-1]
    act = out if out is not None else np.empty_like(z)
    c, tanh_c, h = state_out if state_out is not None else (None, None, None)
    sigmoid(z[:, : 3 * H], out=act[:, : 3 * H])
    np.tanh(z[:, 3 * H :], out=act[:, 3 * H :])
    i, f, o, g = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]

    c = np.add(f * c_prev, i * g, out=c)        # c = f * c_prev + i * g
    tanh_c = np.tanh(c, out=tanh_c)
    h = np.multiply(o, tanh_c, out=h)           # h = o * tanh(c)
    return act, c, tanh_c, h


def gates_backward(dh, dc_next, act, c_prev, tanh_c, out=None):
    """Element-wise half of a step's backward pass.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h (from the output and from the
        next step's recurrence).
    dc_next : (B, H) ndarray
        Gradient arriving at this step's c from the next step's cell.
    act, c_prev, tanh_c : ndarrays
        As returned by / given to ``gates_forward``.
    out : (B, 4H) ndarray, optional
        Buffer for ``dz``.

    Returns
    -------
    dz : (B, 4H) ndarray
        Gradient at the pre-activations, gate order i, f, o, g.
    dc_prev : (B, H) ndarray
        Gradient flowing to the previous cell state.

    Inputs are never modified.
    """
    H = c_prev.shape[-1]
    i, f, o, g = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
    dz = out if out is not None else np.empty_like(act)
    dz_i, dz_f, dz_o, dz_g = dz[:, :H], dz[:, H : 2 * H], dz[:, 2 * H : 3 * H], dz[:, 3 * H :]

    # c reaches the loss two ways: through h = o * tanh(c), and through the
    # next step's cell c_next = f_next * c + ...; both paths add up.
    dc = dc_next + dh * o * (1.0 - tanh_c**2)

    # d/dz of each gate, using sigma' = s(1 - s) and tanh' = 1 - t^2 of the
    # stored activations.
    np.multiply(dc * g, i * (1.0 - i), out=dz_i)          # c = ... + i * g
    np.multiply(dc * c_prev, f * (1.0 - f), out=dz_f)     # c = f * c_prev + ...
    np.multiply(dh * tanh_c, o * (1.0 - o), out=dz_o)     # h = o * tanh(c)
    np.multiply(dc * i, 1.0 - g**2, out=dz_g)             # c = ... + i * g
    dc_prev = dc * f
    return dz, dc_prev


def step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step.

    Parameters
    ----------
    x : (B, D) ndarray
        Input at this step.
    h_prev, c_prev : (B, H) ndarray
        Previous hidden and cell state.
    Wx : (D, 4H) ndarray
        Input weights, gate order i, f, o, g.
    Wh : (H, 4H) ndarray
        Recurrent weights, gate order i, f, o, g.
    b : (4H,) ndarray
        Bias, gate order i, f, o, g.

    Returns
    -------
    h, c : (B, H) ndarray
        New hidden and cell state.
    cache : tuple
        What ``step_backward`` needs: (x, h_prev, c_prev, Wx, Wh, act, tanh_c).
    """
    z = x @ Wx + h_prev @ Wh + b
    act, c, tanh_c, h = gates_forward(z, c_prev, out=z)
    return h, c, (x, h_prev, c_prev, Wx, Wh, act, tanh_c)


def step_backward(dh, dc, cache):
    """Backward pass of one LSTM step.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss with respect to this step's h.
    dc : (B, H) ndarray
        Gradient of the loss with respect to this step's c arriving from
        elsewhere than h (the next step's cell); zeros for a last step.
    cache : tuple
        From ``step_forward``.

    Returns
    -------
    dx : (B, D) ndarray
    dh_prev, dc_prev : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``.
    """
    x, h_prev, c_prev, Wx, Wh, act, tanh_c = cache
    dz, dc_prev = gates_backward(dh, dc, act, c_prev, tanh_c)
    dx = dz @ Wx.T
    dh_prev = dz @ Wh.T
    grads = {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": dz.sum(axis=0)}
    return dx, dh_prev, dc_prev, grads
