"""The sLSTM cell of xLSTM (Beck et al., NeurIPS 2024), one step, forward and backward.

Exponential input and forget gates with a stabiliser state m and a
normaliser state n, as in the official ``xlstm`` code. For one time step and
a batch of B rows::

    z = x Wx + h_prev Wh + b                 pre-activations, (B, 4H), gate order i, f, z, o
    log_f = log sigma(z_f)                   the forget gate, in log space
    g = tanh(z_z)                            the cell input (the paper's z_t)
    o = sigma(z_o)                           output gate
    m = max(log_f + m_prev, z_i)             stabiliser state
    i = exp(z_i - m)                         stabilised input gate   (the paper's i'_t)
    f = exp(log_f + m_prev - m)              stabilised forget gate  (the paper's f'_t)
    c = f * c_prev + i * g                   cell state
    n = f * n_prev + i                       normaliser state
    h = o * c / n                            hidden state

**The stabiliser.** Without m the gates are exp(z_i) and sigma(z_f), and
the cell and normaliser are running sums C = sigma(z_f) C_prev + exp(z_i) g
and N = sigma(z_f) N_prev + exp(z_i), which overflow as soon as z_i passes
about 89 (float32) or 709 (float64). m is a running maximum of the log of
those scales, and the stored states are C and N divided by exp(m):
c = C exp(-m), n = N exp(-m). Then i <= 1 and f <= 1, one of them equal to
1, nothing overflows, and h = o c / n = o C / N: **the factor exp(-m)
cancels in h**, so m changes no output, only the scale at which c and n are
kept.

The normaliser n makes h a weighted mean of the cell inputs g seen so far
(weights i times the forget products), so from a zero state |c / n| <= 1
and h needs no tanh on the cell.

Backward, given dh and the gradients dc_next, dn_next, dm_next arriving at
c, n, m from the next step. First through h = o c / n and the two sums::

    do      = dh * c / n
    dc      = dc_next + dh * o / n
    dn      = dn_next - dh * h / n            dh/dn = -o c / n^2 = -h / n
    di      = dc * g + dn                     c = f c_prev + i g,  n = f n_prev + i
    df      = dc * c_prev + dn * n_prev
    dg      = dc * i
    dc_prev = dc * f
    dn_prev = dn * f

then through the stabiliser: i = exp(z_i - m) and f = exp(log_f + m_prev - m)
both fall as m rises, and m = max(a, z_i) with a = log_f + m_prev passes its
gradient to whichever of the two was larger::

    dm      = dm_next - di * i - df * f       zero when the loss reads only h (see below)
    da      = df * f + dm * from_f            from_f = (a >= z_i), 1 or 0
    dz_i    = di * i + dm * (1 - from_f)
    dm_prev = da                              a = log_f + m_prev
    dz_f    = da * (1 - exp(log_f))           d log sigma(z)/dz = 1 - sigma(z)
    dz_z    = dg * (1 - g^2)
    dz_o    = do * o * (1 - o)

and last through the matrix products, as in the LSTM::

    dx = dz Wx^T,  dh_prev = dz Wh^T,  dWx = x^T dz,  dWh = h_prev^T dz,  db = sum_b dz

**Why dm vanishes.** Substituting the lines above, dm = dm_next - dc * c -
dn * n, and with dc_next = dn_next = dm_next = 0 that is -dh o c / n +
dh (h / n) n = 0. The same holds step after step, so as long as no loss reads
c, n or m directly (a model's losses read h), no gradient flows through the
max: the stabiliser cancels in the backward pass too, which is why the
official code can compute m without a gradient. It is kept here so that a
gradient check with losses on c, n and m passes as well.

The official code also sets m = z_i at a step whose n_prev is all zero (the
first step from a zero state); with c_prev = n_prev = 0 that changes only the
scale of c and n, never h, and this module keeps the single equation above.
The recurrent matrix is one full (H, 4H) block here (one head; the official
code makes it block-diagonal over heads).

This module imports NumPy only.
"""

from __future__ import annotations

import numpy as np

from .lstm import sigmoid

__all__ = ["GATES", "log_sigmoid", "step_forward", "step_backward"]

#: Gate order along the fused 4H axis (the official code's).
GATES = ("i", "f", "z", "o")


def log_sigmoid(z):
    """log sigma(z) = -log(1 + exp(-z)), for any shape, written so that exp never overflows.

    For z >= 0 it is -log(1 + exp(-z)); for z < 0, log sigma(z) = z - log(1 + exp(z)); both are
    min(z, 0) - log(1 + exp(-|z|)), whose exp is of a number <= 0.
    """
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))


def step_forward(x, h_prev, c_prev, n_prev, m_prev, Wx, Wh, b):
    """One sLSTM step.

    Parameters
    ----------
    x : (B, D) ndarray
        Input at this step.
    h_prev, c_prev, n_prev, m_prev : (B, H) ndarray
        Previous hidden, cell, normaliser and stabiliser state (all zero at
        the start of a sequence).
    Wx : (D, 4H) ndarray
        Input weights, gate order i, f, z, o.
    Wh : (H, 4H) ndarray
        Recurrent weights (the memory mixing), gate order i, f, z, o.
    b : (4H,) ndarray
        Bias, gate order i, f, z, o.

    Returns
    -------
    h, c, n, m : (B, H) ndarray
        New states.
    cache : tuple
        What ``step_backward`` needs:
        ``(x, h_prev, c_prev, n_prev, Wx, Wh, log_f, g, o, i, f, from_f, c, n, h)``.
    """
    H = h_prev.shape[1]
    z = x @ Wx + h_prev @ Wh + b
    z_i = z[:, 0 * H : 1 * H]
    log_f = log_sigmoid(z[:, 1 * H : 2 * H])
    g = np.tanh(z[:, 2 * H : 3 * H])
    o = sigmoid(z[:, 3 * H : 4 * H])
    m = np.maximum(log_f + m_prev, z_i)
    i = np.exp(z_i - m)
    f = np.exp(log_f + m_prev - m)
    c = f * c_prev + i * g
    n = f * n_prev + i
    h = o * c / n
    from_f = (log_f + m_prev >= z_i).astype(x.dtype)  # which side of the max m came from
    return h, c, n, m, (x, h_prev, c_prev, n_prev, Wx, Wh, log_f, g, o, i, f, from_f, c, n, h)


def step_backward(dh, dc_next, dn_next, dm_next, cache):
    """Backward pass of one sLSTM step.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h (from its output and from the
        next step).
    dc_next, dn_next, dm_next : (B, H) ndarray
        Gradients at this step's c, n and m arriving from the next step (not
        through h); zeros for the last step.
    cache : tuple
        From ``step_forward``.

    Returns
    -------
    dx : (B, D) ndarray
    dh_prev, dc_prev, dn_prev, dm_prev : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``.
    """
    x, h_prev, c_prev, n_prev, Wx, Wh, log_f, g, o, i, f, from_f, c, n, h = cache

    # Through h = o c / n and the two sums.
    do = dh * c / n
    dc = dc_next + dh * o / n
    dn = dn_next - dh * h / n
    di = dc * g + dn
    df = dc * c_prev + dn * n_prev
    dg = dc * i
    dc_prev = dc * f
    dn_prev = dn * f

    # Through the stabiliser and the gates' nonlinearities, to the pre-activations.
    dm = dm_next - di * i - df * f
    da = df * f + dm * from_f
    dz_i = di * i + dm * (1 - from_f)
    dm_prev = da
    dz_f = da * (1 - np.exp(log_f))
    dz_z = dg * (1 - g**2)
    dz_o = do * o * (1 - o)
    dz = np.concatenate([dz_i, dz_f, dz_z, dz_o], axis=1)

    # Through z = x Wx + h_prev Wh + b.
    dx = dz @ Wx.T
    dh_prev = dz @ Wh.T
    grads = {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": dz.sum(axis=0)}
    return dx, dh_prev, dc_prev, dn_prev, dm_prev, grads
