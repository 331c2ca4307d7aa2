"""The vanilla (Elman) RNN cell, one step, forward and backward, written as the equations.

Forward, for one time step and a batch of B rows::

    z = x Wx + h_prev Wh + b          pre-activation, (B, H)
    h = tanh(z)                       new hidden state

Backward, given dh, with tanh' = 1 - h^2 from the stored output::

    dz      = dh * (1 - h^2)
    dx      = dz Wx^T                 (B, H) (H, D) -> (B, D)
    dh_prev = dz Wh^T                 (B, H) (H, H) -> (B, H)
    dWx = x^T dz,  dWh = h_prev^T dz,  db = sum_b dz

The gradient reaching h_prev is dh multiplied by (1 - h^2) and by Wh^T at
*every* step, so over many steps it shrinks or grows geometrically: the
vanishing/exploding gradient that the LSTM's additive cell path avoids.

This module imports NumPy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["step_forward", "step_backward"]


def step_forward(x, h_prev, Wx, Wh, b):
    """One RNN step.

    Parameters
    ----------
    x : (B, D) ndarray
    h_prev : (B, H) ndarray
    Wx : (D, H), Wh : (H, H), b : (H,) ndarray

    Returns
    -------
    h : (B, H) ndarray
        New hidden state.
    cache : tuple
        What ``step_backward`` needs: ``(x, h_prev, Wx, Wh, h)``.
    """
    z = x @ Wx + h_prev @ Wh + b
    h = np.tanh(z)
    return h, (x, h_prev, Wx, Wh, h)


def step_backward(dh, cache):
    """Backward pass of one RNN step.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h.
    cache : tuple
        From ``step_forward``.

    Returns
    -------
    dx : (B, D) ndarray
    dh_prev : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, H), "Wh": (H, H), "b": (H,)}``.
    """
    x, h_prev, Wx, Wh, h = cache
    dz = dh * (1 - h**2)
    dx = dz @ Wx.T
    dh_prev = dz @ Wh.T
    grads = {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": dz.sum(axis=0)}
    return dx, dh_prev, grads
