"""The GRU cell, one step, forward and backward, written as the equations.

The formulation of PyTorch's ``nn.GRU`` (and Keras's default
``reset_after=True``), for one time step and a batch of B rows::

    a = x Wx + bx                     input projections, (B, 3H), gate order r, z, n
    u = h_prev Wh + bh                recurrent projections, (B, 3H)
    r = sigma(a_r + u_r)              reset gate
    z = sigma(a_z + u_z)              update gate
    n = tanh(a_n + r * u_n)           candidate state
    h = (1 - z) * n + z * h_prev      new hidden state

The reset gate multiplies the whole recurrent term of n, *including its
bias* (u_n = h_prev Wh_n + bh_n), so the GRU needs two bias vectors.

Backward, given dh. First through the products, to the gates::

    dn      = dh * (1 - z)                      h = (1 - z) * n + z * h_prev
    dz      = dh * (h_prev - n)
    dh_skip = dh * z                            the direct path to h_prev

then through the nonlinearities (sigma' = s (1 - s), tanh' = 1 - t^2 of
the stored outputs)::

    da_n = dn * (1 - n^2)                       n = tanh(a_n + r * u_n)
    dr   = da_n * u_n
    du_n = da_n * r
    da_r = dr * r * (1 - r)                     r = sigma(a_r + u_r)
    da_z = dz * z * (1 - z)                     z = sigma(a_z + u_z)
    da = [da_r, da_z, da_n],  du = [da_r, da_z, du_n]

and last through the matrix products::

    dx      = da Wx^T                (B, 3H) (3H, D) -> (B, D)
    dh_prev = du Wh^T + dh_skip      (B, 3H) (3H, H) -> (B, H)
    dWx = x^T da,  dWh = h_prev^T du,  dbx = sum_b da,  dbh = sum_b du

This module imports NumPy only.
"""

from __future__ import annotations

import numpy as np

from .lstm import sigmoid

__all__ = ["GATES", "step_forward", "step_backward"]

#: Gate order along the fused 3H axis (PyTorch's).
GATES = ("r", "z", "n")


def step_forward(x, h_prev, Wx, Wh, bx, bh):
    """One GRU step.

    Parameters
    ----------
    x : (B, D) ndarray
    h_prev : (B, H) ndarray
    Wx : (D, 3H) ndarray
        Input weights, gate order r, z, n.
    Wh : (H, 3H) ndarray
        Recurrent weights, gate order r, z, n.
    bx, bh : (3H,) ndarray
        Input and recurrent biases (``bh``'s n block sits inside ``r * (...)``).

    Returns
    -------
    h : (B, H) ndarray
        New hidden state.
    cache : tuple
        What ``step_backward`` needs: ``(x, h_prev, Wx, Wh, r, z, n, u_n)``.
    """
    H = h_prev.shape[1]
    a = x @ Wx + bx
    u = h_prev @ Wh + bh
    r = sigmoid(a[:, 0 * H : 1 * H] + u[:, 0 * H : 1 * H])
    z = sigmoid(a[:, 1 * H : 2 * H] + u[:, 1 * H : 2 * H])
    n = np.tanh(a[:, 2 * H : 3 * H] + r * u[:, 2 * H : 3 * H])
    h = (1 - z) * n + z * h_prev
    return h, (x, h_prev, Wx, Wh, r, z, n, u[:, 2 * H : 3 * H])


def step_backward(dh, cache):
    """Backward pass of one GRU step.

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
        ``{"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}``.
    """
    x, h_prev, Wx, Wh, r, z, n, u_n = cache

    # Through the products, to the gates.
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dh_skip = dh * z

    # Through the nonlinearities, to the projections a and u.
    da_n = dn * (1 - n**2)
    dr = da_n * u_n
    du_n = da_n * r
    da_r = dr * r * (1 - r)
    da_z = dz * z * (1 - z)
    da = np.concatenate([da_r, da_z, da_n], axis=1)
    du = np.concatenate([da_r, da_z, du_n], axis=1)

    # Through a = x Wx + bx and u = h_prev Wh + bh.
    dx = da @ Wx.T
    dh_prev = du @ Wh.T + dh_skip
    grads = {"Wx": x.T @ da, "Wh": h_prev.T @ du, "bx": da.sum(axis=0), "bh": du.sum(axis=0)}
    return dx, dh_prev, grads
