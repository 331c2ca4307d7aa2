"""The article's cell: the recurrence this project grew from, run as written.

The article that started this project describes an "LSTM" whose step is::

    z = x Wx + h_prev Wh + b          pre-activations, (B, 4H), gate order i, f, o, g
    i = sigma(z_i)                    input gate
    f = sigma(z_f)                    forget gate
    o = sigma(z_o)                    output gate: computed, never used
    g = tanh(z_g)                     candidate
    h = f * h_prev + i * g            the only state

It is kept here, with its own backward and gradient check, so that it can be
trained beside the real cell (``lstm_np.cells.lstm``) and the difference seen
in numbers rather than asserted in prose (notebook 01).

The article's two mistakes
--------------------------
1. **No cell state, and an output gate that is never used.** The real LSTM
   keeps two states: the memory c, updated only additively
   (c = f * c_prev + i * g), and the output h = o * tanh(c), the part of the
   memory the cell shows to the next layer and to its own gates. Here the
   memory *is* the output. What is lost:

   * the output gate. o is computed (a quarter of the weights and of the
     work) but h does not depend on it, so its gradient is exactly zero and
     its weights never move from their initial values;
   * the separation of storing from showing. Everything the cell stores is
     fed back, unscaled, into every gate through h_prev Wh and passed on to
     the next layer; the LSTM can hold a value in c while showing
     o * tanh(c) ~ 0, so the stored value does not disturb the gates
     (on the adding problem: the running sum is held while the next inputs
     are read);
   * the bound. h = o * tanh(c) lies in (-1, 1) whatever c is; here h is a
     running sum of g's and can grow up to the number of steps, which
     can push the gates it feeds into saturation.

   The additive path itself survives: dh_prev receives dh * f, as dc_prev
   does in the LSTM, so the gradient does not vanish the way a plain RNN's
   does. What goes wrong is what the state is allowed to do, not how the
   gradient flows along it.

2. **A 2-D array fed to an LSTM.** The article gives Keras's LSTM its data as
   (samples, features): one-hot rows, one per rating. A recurrent layer reads a *sequence* per sample:
   Keras expects (batch, timesteps, features), 3-D, as ``lstm_np.LSTM``
   expects (B, T, D). Written as 2-D there is no time axis: either Keras
   refuses it, or (reshaped to (samples, 1, features)) every sequence is one
   step long and the recurrence, the whole point of the cell, never runs.

Backward, given dh (the gradient at h from this step's output and from the
next step), first through the products, to the gates::

    dh_prev = dh * f   (+ the matrix-product path below)
    di      = dh * g
    df      = dh * h_prev
    dg      = dh * i
    do      = 0                        o does not appear in h

then through the nonlinearities (s (1 - s) and 1 - t^2 of the stored
outputs) and the matrix products of z, exactly as in ``cells.lstm``.

This module imports NumPy only.
"""

from __future__ import annotations

import numpy as np

from .lstm import sigmoid

__all__ = ["GATES", "sigmoid", "step_forward", "step_backward"]

#: Gate order along the fused 4H axis (the same as ``cells.lstm``).
GATES = ("i", "f", "o", "g")


def step_forward(x, h_prev, Wx, Wh, b):
    """One step of the article's recurrence h = f * h_prev + i * g.

    Parameters
    ----------
    x : (B, D) ndarray
        Input at this step.
    h_prev : (B, H) ndarray
        Previous state (the article's only state).
    Wx : (D, 4H) ndarray
        Input weights, gate order i, f, o, g.
    Wh : (H, 4H) ndarray
        Recurrent weights, gate order i, f, o, g.
    b : (4H,) ndarray
        Bias, gate order i, f, o, g.

    Returns
    -------
    h : (B, H) ndarray
        New state.
    cache : tuple
        What ``step_backward`` needs: ``(x, h_prev, Wx, Wh, i, f, o, g)``.
    """
    H = h_prev.shape[1]
    z = x @ Wx + h_prev @ Wh + b
    i = sigmoid(z[:, 0 * H : 1 * H])
    f = sigmoid(z[:, 1 * H : 2 * H])
    o = sigmoid(z[:, 2 * H : 3 * H])  # computed, as in the article, and never used
    g = np.tanh(z[:, 3 * H : 4 * H])
    h = f * h_prev + i * g
    return h, (x, h_prev, Wx, Wh, i, f, o, g)


def step_backward(dh, cache):
    """Backward pass of one step of the article's recurrence.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h (from this step's output and
        from the next step).
    cache : tuple
        From ``step_forward``.

    Returns
    -------
    dx : (B, D) ndarray
    dh_prev : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``; the o columns are zero.
    """
    x, h_prev, Wx, Wh, i, f, o, g = cache

    # Through the products, to the gates (h = f * h_prev + i * g).
    di = dh * g
    df = dh * h_prev
    dg = dh * i
    # o does not appear in h, so the loss does not depend on it: dL/do = 0,
    # hence dz_o = 0 and the output gate's weights never receive a gradient.
    do = np.zeros_like(o)

    # Through the nonlinearities, to the pre-activations.
    dz_i = di * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dg * (1 - g**2)
    dz = np.concatenate([dz_i, dz_f, dz_o, dz_g], axis=1)

    # Through z = x Wx + h_prev Wh + b; h_prev also reaches h directly, times f.
    dx = dz @ Wx.T
    dh_prev = dh * f + dz @ Wh.T
    grads = {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": dz.sum(axis=0)}
    return dx, dh_prev, grads
