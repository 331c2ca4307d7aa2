"""The LSTM cell, one step, forward and backward, written as the equations.

This is the reference: one line of code per equation, named as the symbols.
The sequence layer (``lstm_np.sequence.lstm``) computes the same numbers
faster and is tested equal to this step, run by hand over a sequence.

Forward, for one time step and a batch of B rows::

    z = x Wx + h_prev Wh + b          pre-activations, (B, 4H), gate order i, f, o, g
    i = sigma(z_i)                    input gate
    f = sigma(z_f)                    forget gate
    o = sigma(z_o)                    output gate
    g = tanh(z_g)                     candidate cell state
    c = f * c_prev + i * g            cell state
    h = o * tanh(c)                   hidden state

Backward, given dh (the gradient at h) and dc_next (the gradient at c from
the next step's cell). First through the products, to the gates::

    do      = dh * tanh(c)                              h = o * tanh(c)
    dc      = dc_next + dh * o * (1 - tanh(c)^2)        c reaches the loss via h and via c_next
    di      = dc * g                                    c = f * c_prev + i * g
    df      = dc * c_prev
    dg      = dc * i
    dc_prev = dc * f

then through the nonlinearities, using sigma' = s (1 - s) and
tanh' = 1 - t^2 of the stored outputs s and t::

    dz_i = di * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dg * (1 - g^2)

and last through the matrix products of z (shapes in the comments)::

    dx      = dz Wx^T        (B, 4H) (4H, D) -> (B, D)
    dh_prev = dz Wh^T        (B, 4H) (4H, H) -> (B, H)
    dWx     = x^T dz         (D, B) (B, 4H)  -> (D, 4H)
    dWh     = h_prev^T dz    (H, B) (B, 4H)  -> (H, 4H)
    db      = sum_b dz       (4H,)

Gate order in the fused arrays (``Wx``, ``Wh``, ``b``, ``z``) is i, f, o, g.
PyTorch and Keras use i, f, g, o; ``lstm_np.sequence.lstm`` converts.

This module imports NumPy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GATES", "sigmoid", "step_forward", "step_backward"]

#: Gate order along the fused 4H axis.
GATES = ("i", "f", "o", "g")


def sigmoid(z):
    """Logistic sigmoid 1 / (1 + exp(-z)), for any shape.

    Computed as (1 + tanh(z / 2)) / 2, the same function written so that no
    exp of a large number is ever taken (exp(1000) overflows to inf and
    warns; tanh(500) is just 1.0).
    """
    return 0.5 * (1.0 + np.tanh(0.5 * z))


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
        What ``step_backward`` needs:
        ``(x, h_prev, c_prev, Wx, Wh, i, f, o, g, c)``.
    """
    H = h_prev.shape[1]
    z = x @ Wx + h_prev @ Wh + b
    i = sigmoid(z[:, 0 * H : 1 * H])
    f = sigmoid(z[:, 1 * H : 2 * H])
    o = sigmoid(z[:, 2 * H : 3 * H])
    g = np.tanh(z[:, 3 * H : 4 * H])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, o, g, c)


def step_backward(dh, dc_next, cache):
    """Backward pass of one LSTM step.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h (from this step's output and
        from the next step).
    dc_next : (B, H) ndarray
        Gradient of the loss at this step's c arriving from the next step's
        cell (not through h); zeros for the last step.
    cache : tuple
        From ``step_forward``.

    Returns
    -------
    dx : (B, D) ndarray
    dh_prev, dc_prev : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``.
    """
    x, h_prev, c_prev, Wx, Wh, i, f, o, g, c = cache
    tanh_c = np.tanh(c)

    # Through the products, to the gates.
    do = dh * tanh_c
    dc = dc_next + dh * o * (1 - tanh_c**2)
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f

    # Through the nonlinearities, to the pre-activations.
    dz_i = di * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dg * (1 - g**2)
    dz = np.concatenate([dz_i, dz_f, dz_o, dz_g], axis=1)

    # Through z = x Wx + h_prev Wh + b.
    dx = dz @ Wx.T
    dh_prev = dz @ Wh.T
    grads = {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": dz.sum(axis=0)}
    return dx, dh_prev, dc_prev, grads
