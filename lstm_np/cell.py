"""One step of the LSTM cell: forward and backward.

The standard LSTM (no peepholes), for one time step and a batch of B rows::

    z = x Wx + h_prev Wh + b                     pre-activations, (B, 4H)
    i = sigma(z_i)                               input gate
    f = sigma(z_f)                               forget gate
    o = sigma(z_o)                               output gate
    g = tanh(z_g)                                candidate cell state
    c = f * c_prev + i * g                       cell state
    h = o * tanh(c)                              hidden state

Backward, for the gradients dh (at h) and dc_next (at c, from the next step)::

    dc      = dc_next + dh * o * (1 - tanh(c)^2)    c reaches the loss via h and c_next
    dz_i    = dc * g * i (1 - i)                    sigma' = s (1 - s)
    dz_f    = dc * c_prev * f (1 - f)
    dz_o    = dh * tanh(c) * o (1 - o)
    dz_g    = dc * i * (1 - g^2)                    tanh' = 1 - t^2
    dc_prev = dc * f
    dx = dz Wx^T,  dh_prev = dz Wh^T,  dWx = x^T dz,  dWh = h_prev^T dz,  db = sum of dz

Gate order in every fused array (``Wx``, ``Wh``, ``b``, ``z``) is
**i, f, o, g**: the three sigmoid gates first, so that their derivatives
s (1 - s) are computed over one contiguous slice, ``[:, :3H]``.
(PyTorch and Keras use i, f, g, o; ``lstm_np.layer`` converts.)

This module imports NumPy only. ``step_forward``/``step_backward`` are the
readable single-step reference. The sequence layer (``lstm_np.layer``) uses
their element-wise parts around GEMMs batched over time: ``gates_forward``;
``gate_partials``, the factors of the backward equations that involve neither
dh nor dc (they depend only on the forward pass, so the layer computes them
for many steps in one call); and ``gates_backward``, the chain rule that
multiplies them by dh and dc, the one part that must run step by step.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GATES",
    "sigmoid",
    "activation_scales",
    "gates_forward",
    "gate_partials",
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


def activation_scales(B, H, dtype=np.float64):
    """The constants that let one tanh apply every gate's nonlinearity.

    Since sigma(z) = tanh(z / 2) / 2 + 1/2, the activations of all four
    gates are ``act = a * tanh(a * z) + (1 - a)`` with a = 1/2 in the blocks
    of i, f, o and a = 1 in the block of g. Four calls over the whole fused
    (B, 4H) array do the work of a sigmoid over one slice and a tanh over
    another, and run faster: NumPy is quickest on whole contiguous arrays.

    Returns
    -------
    a, one_minus_a : (B, 4H) ndarrays
        Full arrays rather than (4H,) rows, for the same reason.
    """
    a = np.ones((B, 4 * H), dtype=dtype)
    a[:, : 3 * H] = 0.5
    return a, 1.0 - a


def gates_forward(z, c_prev, out=None, *, state_out=None, scales=None):
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
    scales : pair of (B, 4H) ndarrays, optional
        ``activation_scales(B, H, z.dtype)``; the sequence layer makes them
        once for all its steps.

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
    B, H = c_prev.shape
    act = out if out is not None else np.empty_like(z)
    c, tanh_c, h = state_out if state_out is not None else (None, None, None)
    a, one_minus_a = activation_scales(B, H, z.dtype) if scales is None else scales

    # i, f, o = sigma(z_i, z_f, z_o) and g = tanh(z_g), as a * tanh(a * z) + (1 - a)
    np.multiply(z, a, out=act)
    np.tanh(act, out=act)
    act *= a
    act += one_minus_a
    i, f, o, g = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]

    c = np.add(f * c_prev, i * g, out=c)        # c = f * c_prev + i * g
    tanh_c = np.tanh(c, out=tanh_c)
    h = np.multiply(o, tanh_c, out=h)           # h = o * tanh(c)
    return act, c, tanh_c, h


def gate_partials(act, c_prev, tanh_c, out=None, dh_dc=None):
    """The local derivatives of a step: how c and h move with z and with c.

    They depend only on what the forward pass stored, not on the loss, so the
    sequence layer computes them for many steps in one call; the backward
    recursion then only multiplies them by the gradients arriving at c and h
    (``gates_backward``).

    Parameters
    ----------
    act : (..., 4H) ndarray
        Gate activations i, f, o, g (from ``gates_forward``).
    c_prev : (..., H) ndarray
        Cell state before the step.
    tanh_c : (..., H) ndarray
        tanh of the cell state after the step.
    out : (..., 4H) ndarray, optional
        Buffer for the gate partials; must not overlap ``act``.
    dh_dc : (..., H) ndarray, optional
        Buffer for dh/dc; must not overlap the inputs.

    The leading axes are free: (B,) for one step, (K, B) for K steps.

    Returns
    -------
    partials : (..., 4H) ndarray
        Gate order i, f, o, g: dc/dz_i, dc/dz_f, dh/dz_o, dc/dz_g (element-wise).
    dh_dc : (..., H) ndarray
        dh/dc = o * tanh'(c).
    """
    H = c_prev.shape[-1]
    i, f, o, g = act[..., :H], act[..., H : 2 * H], act[..., 2 * H : 3 * H], act[..., 3 * H :]
    p = np.empty_like(act) if out is None else out
    p_i, p_f, p_o, p_g = p[..., :H], p[..., H : 2 * H], p[..., 2 * H : 3 * H], p[..., 3 * H :]

    # From the stored activations: sigma'(z) = s (1 - s) for i, f, o (one call
    # over their contiguous block) and tanh'(z) = 1 - t^2 for g and c. Written
    # into the output buffers, since for many steps a temporary is large.
    s, p_s = act[..., : 3 * H], p[..., : 3 * H]
    np.subtract(1.0, s, out=p_s)
    p_s *= s                                     # i (1 - i), f (1 - f), o (1 - o)
    p_i *= g                                     # dc/dz_i = g * i (1 - i)         from c = f * c_prev + i * g
    p_f *= c_prev                                # dc/dz_f = c_prev * f (1 - f)
    p_o *= tanh_c                                # dh/dz_o = tanh(c) * o (1 - o)   from h = o * tanh(c)
    np.multiply(g, g, out=p_g)
    np.subtract(1.0, p_g, out=p_g)
    p_g *= i                                     # dc/dz_g = i * (1 - g^2)
    dh_dc = np.multiply(tanh_c, tanh_c, out=dh_dc)
    np.subtract(1.0, dh_dc, out=dh_dc)
    dh_dc *= o                                   # dh/dc = o * (1 - tanh(c)^2)
    return p, dh_dc


def gates_backward(dh, dc_next, partials, dh_dc, f):
    """Element-wise half of a step's backward pass: the chain rule.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h (from the output and from the
        next step's recurrence).
    dc_next : (B, H) ndarray
        Gradient arriving at this step's c from the next step's cell.
    partials : (B, 4H) ndarray
        This step's local derivatives from ``gate_partials``; overwritten
        with dz (each entry is multiplied by its gradient in place).
    dh_dc : (B, H) ndarray
        dh/dc, from ``gate_partials``.
    f : (B, H) ndarray
        This step's forget gate.

    Returns
    -------
    dz : (B, 4H) ndarray
        ``partials``, now the gradient at the pre-activations, gate order
        i, f, o, g.
    dc_prev : (B, H) ndarray
        Gradient flowing to the previous cell state.

    The other inputs are not modified.
    """
    H = f.shape[-1]
    dz = partials

    # c reaches the loss two ways: through h = o * tanh(c), and through the
    # next step's cell c_next = f_next * c + ...; both paths add up.
    dc = dc_next + dh * dh_dc
    dz[:, :H] *= dc                 # dz_i = dc * dc/dz_i: i, f and g act on the loss through c,
    dz[:, H : 2 * H] *= dc          # dz_f = dc * dc/dz_f
    dz[:, 2 * H : 3 * H] *= dh      # dz_o = dh * dh/dz_o: o only through h.
    dz[:, 3 * H :] *= dc            # dz_g = dc * dc/dz_g
    dc_prev = dc * f                # c = f * c_prev + ...
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
    H = h_prev.shape[1]
    partials, dh_dc = gate_partials(act, c_prev, tanh_c)
    dz, dc_prev = gates_backward(dh, dc, partials, dh_dc, act[:, H : 2 * H])
    dx = dz @ Wx.T
    dh_prev = dz @ Wh.T
    grads = {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": dz.sum(axis=0)}
    return dx, dh_prev, dc_prev, grads
