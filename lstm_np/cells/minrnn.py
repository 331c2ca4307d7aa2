"""minLSTM and minGRU (Feng et al., "Were RNNs All We Needed?", 2024), one step each, forward and backward.

Both drop h_prev from the gates: every gate and the candidate depend on the
input x only, so the step is a *linear* recurrence h = a * h_prev + b whose
coefficients a and b are known for all steps before the first step is
taken. That is what lets ``lstm_np.sequence.minrnn`` compute a whole sequence
with a scan (cumulative sums in log space) instead of a loop; this module is
the plain step that the scan is tested against.

**minLSTM**, for one time step and a batch of B rows::

    a = x Wx + b                       pre-activations, (B, 3H), gate order f, i, h
    f = sigma(a_f)                     forget gate
    i = sigma(a_i)                     input gate
    h_tilde = a_h                      candidate (linear: no tanh)
    f_norm = f / (f + i)               the paper's f'_t
    i_norm = i / (f + i)               the paper's i'_t; f_norm + i_norm = 1
    h = f_norm * h_prev + i_norm * h_tilde

The normalisation makes h a running weighted mean of the candidates, so its
scale does not depend on time (the paper's "time-independent" output scale).

Backward, given dh::

    df_norm  = dh * h_prev
    di_norm  = dh * h_tilde
    dh_tilde = dh * i_norm
    dh_prev  = dh * f_norm
    da_f     = (df_norm - di_norm) * f_norm * i_norm * (1 - f)
    da_i     = (di_norm - df_norm) * f_norm * i_norm * (1 - i)
    da_h     = dh_tilde

(the two gate lines are d f_norm / d f = i / (f + i)^2, d i_norm / d f =
-i / (f + i)^2, times sigma' = f (1 - f), and the same for i, simplified
with f_norm i_norm = f i / (f + i)^2).

**minGRU**::

    a = x Wx + b                       pre-activations, (B, 2H), gate order z, h
    z = sigma(a_z)                     update gate
    h_tilde = a_h                      candidate
    h = (1 - z) * h_prev + z * h_tilde

Backward, given dh::

    dz       = dh * (h_tilde - h_prev)
    dh_tilde = dh * z
    dh_prev  = dh * (1 - z)
    da_z     = dz * z * (1 - z)
    da_h     = dh_tilde

For both, last through a = x Wx + b: dx = da Wx^T, dWx = x^T da,
db = sum_b da. There is no recurrent weight matrix, so no dWh: the only
path from h_prev to h is the element-wise product.

This module imports NumPy only.
"""

from __future__ import annotations

import numpy as np

from .lstm import sigmoid

__all__ = ["MINLSTM_GATES", "MINGRU_GATES", "minlstm_step_forward", "minlstm_step_backward",
           "mingru_step_forward", "mingru_step_backward"]

#: Gate order along minLSTM's fused 3H axis.
MINLSTM_GATES = ("f", "i", "h")
#: Gate order along minGRU's fused 2H axis.
MINGRU_GATES = ("z", "h")


def minlstm_step_forward(x, h_prev, Wx, b):
    """One minLSTM step.

    Parameters
    ----------
    x : (B, D) ndarray
    h_prev : (B, H) ndarray
    Wx : (D, 3H) ndarray
        Input weights, gate order f, i, h.
    b : (3H,) ndarray
        Bias, gate order f, i, h.

    Returns
    -------
    h : (B, H) ndarray
    cache : tuple
        ``(x, h_prev, Wx, f, i, h_tilde, f_norm, i_norm)``.
    """
    H = h_prev.shape[1]
    a = x @ Wx + b
    f = sigmoid(a[:, 0 * H : 1 * H])
    i = sigmoid(a[:, 1 * H : 2 * H])
    h_tilde = a[:, 2 * H : 3 * H]
    f_norm = f / (f + i)
    i_norm = i / (f + i)
    h = f_norm * h_prev + i_norm * h_tilde
    return h, (x, h_prev, Wx, f, i, h_tilde, f_norm, i_norm)


def minlstm_step_backward(dh, cache):
    """Backward pass of one minLSTM step.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h.
    cache : tuple
        From ``minlstm_step_forward``.

    Returns
    -------
    dx : (B, D) ndarray
    dh_prev : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 3H), "b": (3H,)}``.
    """
    x, h_prev, Wx, f, i, h_tilde, f_norm, i_norm = cache
    df_norm = dh * h_prev
    di_norm = dh * h_tilde
    dh_tilde = dh * i_norm
    dh_prev = dh * f_norm
    da_f = (df_norm - di_norm) * f_norm * i_norm * (1 - f)
    da_i = (di_norm - df_norm) * f_norm * i_norm * (1 - i)
    da_h = dh_tilde
    da = np.concatenate([da_f, da_i, da_h], axis=1)
    dx = da @ Wx.T
    return dx, dh_prev, {"Wx": x.T @ da, "b": da.sum(axis=0)}


def mingru_step_forward(x, h_prev, Wx, b):
    """One minGRU step.

    Parameters
    ----------
    x : (B, D) ndarray
    h_prev : (B, H) ndarray
    Wx : (D, 2H) ndarray
        Input weights, gate order z, h.
    b : (2H,) ndarray
        Bias, gate order z, h.

    Returns
    -------
    h : (B, H) ndarray
    cache : tuple
        ``(x, h_prev, Wx, z, h_tilde)``.
    """
    H = h_prev.shape[1]
    a = x @ Wx + b
    z = sigmoid(a[:, 0 * H : 1 * H])
    h_tilde = a[:, 1 * H : 2 * H]
    h = (1 - z) * h_prev + z * h_tilde
    return h, (x, h_prev, Wx, z, h_tilde)


def mingru_step_backward(dh, cache):
    """Backward pass of one minGRU step.

    Parameters
    ----------
    dh : (B, H) ndarray
    cache : tuple
        From ``mingru_step_forward``.

    Returns
    -------
    dx : (B, D) ndarray
    dh_prev : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 2H), "b": (2H,)}``.
    """
    x, h_prev, Wx, z, h_tilde = cache
    dz = dh * (h_tilde - h_prev)
    dh_tilde = dh * z
    dh_prev = dh * (1 - z)
    da_z = dz * z * (1 - z)
    da_h = dh_tilde
    da = np.concatenate([da_z, da_h], axis=1)
    dx = da @ Wx.T
    return dx, dh_prev, {"Wx": x.T @ da, "b": da.sum(axis=0)}
