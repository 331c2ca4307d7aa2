"""The fast path's element-wise kernels: the cell equations rewritten for speed.

The reference steps in ``lstm_np.cells`` say *what* is computed, one line
per equation. The sequence layers (``lstm_np.sequence``) compute the same
numbers with these kernels, which change only *how*; each trick is
explained once, here, and ``tests/test_fast_equals_reference.py`` checks
that the layers equal the reference steps to 1e-12 in float64.

The tricks, in the reference's terms:

* **One nonlinearity over the fused array** (``gates_forward``). The LSTM's
  reference applies ``sigmoid`` to three column slices of z and ``tanh`` to
  the fourth. Since sigma(z) = tanh(z / 2) / 2 + 1/2, all four are
  ``act = a * tanh(a * z) + (1 - a)`` with a = 1/2 for i, f, o and a = 1
  for g: four in-place calls over the whole contiguous (B, 4H) array, where
  NumPy is up to 4x faster than on column slices.
* **Local derivatives apart from the chain rule** (``gate_partials`` and
  ``gates_backward``). The reference's backward multiplies gradients and
  derivatives in one go. But the derivatives dc/dz_i = g i (1 - i),
  dc/dz_f = c_prev f (1 - f), dh/dz_o = tanh(c) o (1 - o),
  dc/dz_g = i (1 - g^2) and dh/dc = o (1 - tanh(c)^2) depend only on what
  the forward pass stored, so the layer computes them for a block of many
  steps in one call; the per-step loop then only multiplies them by dc or
  dh (in place: the partials become dz) and forms dc_prev = dc * f.
* **Output buffers** (``out=``, ``state_out=``): each kernel can write into
  arrays the layer allocated once, so the hot loop allocates nothing.

This module imports NumPy and the reference cells only.
"""

from __future__ import annotations

import numpy as np


__all__ = [
    "sigmoid_into",
    "activation_scales",
    "gates_forward",
    "gate_partials",
    "gates_backward",
    "gru_gates_forward",
    "gru_gates_backward",
]


def sigmoid_into(z, out=None):
    """``cells.lstm.sigmoid`` written into a buffer: (1 + tanh(z / 2)) / 2
    in four in-place calls, with no temporary array.

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


# --------------------------------------------------------------------------- GRU


def gru_gates_forward(a, u, h_prev, out=None):
    """The GRU step's element-wise half (``cells.gru.step_forward`` after its two
    GEMMs), writing the activations r, z, n into one (B, 3H) buffer.

    Parameters
    ----------
    a : (B, 3H) ndarray
        Input projections ``x Wx + bx``, gate order r, z, n. Left unchanged
        unless ``out`` is ``a``.
    u : (B, 3H) ndarray
        Recurrent projections ``h_prev Wh + bh``, gate order r, z, n.
    h_prev : (B, H) ndarray
    out : (B, 3H) ndarray, optional
        Buffer for the activations (may be ``a`` itself, to overwrite).

    Returns
    -------
    act : (B, 3H) ndarray
        r, z, n (after the nonlinearities); backward takes the derivatives
        from these stored values.
    h : (B, H) ndarray
        New hidden state.
    """
    H = h_prev.shape[-1]
    act = out if out is not None else np.empty_like(a)
    sigmoid_into(a[:, : 2 * H] + u[:, : 2 * H], out=act[:, : 2 * H])
    r, z = act[:, :H], act[:, H : 2 * H]
    np.tanh(a[:, 2 * H :] + r * u[:, 2 * H :], out=act[:, 2 * H :])
    n = act[:, 2 * H :]

    h = (1.0 - z) * n + z * h_prev
    return act, h


def gru_gates_backward(dh, act, u_n, h_prev, out_a=None, out_u=None):
    """The GRU step's element-wise backward (``cells.gru.step_backward`` before
    its GEMMs), writing da and du into buffers.

    Parameters
    ----------
    dh : (B, H) ndarray
        Gradient of the loss at this step's h.
    act : (B, 3H) ndarray
        r, z, n as returned by ``gru_gates_forward``.
    u_n : (B, H) ndarray
        The candidate's recurrent projection ``h_prev Wh_n + bh_n``.
    h_prev : (B, H) ndarray
    out_a, out_u : (B, 3H) ndarray, optional
        Buffers for ``da`` and ``du``.

    Returns
    -------
    da : (B, 3H) ndarray
        Gradient at the input projections ``a`` (gate order r, z, n).
    du : (B, 3H) ndarray
        Gradient at the recurrent projections ``u``; equal to ``da`` in the
        r and z blocks, ``da_n * r`` in the n block.
    dh_direct : (B, H) ndarray
        The part of dL/dh_prev through ``z * h_prev``; the caller adds
        ``du Wh^T``.

    Inputs are never modified.
    """
    H = h_prev.shape[-1]
    r, z, n = act[:, :H], act[:, H : 2 * H], act[:, 2 * H :]
    da = out_a if out_a is not None else np.empty_like(act)
    du = out_u if out_u is not None else np.empty_like(act)
    da_r, da_z, da_n = da[:, :H], da[:, H : 2 * H], da[:, 2 * H :]

    dn = dh * (1.0 - z)                                # h = (1 - z) * n + ...
    dz = dh * (h_prev - n)                             # h = n + z * (h_prev - n)
    np.multiply(dn, 1.0 - n**2, out=da_n)              # n = tanh(a_n + r * u_n)
    np.multiply(da_n * u_n, r * (1.0 - r), out=da_r)   # r = sigma(a_r + u_r)
    np.multiply(dz, z * (1.0 - z), out=da_z)           # z = sigma(a_z + u_z)

    du[:, : 2 * H] = da[:, : 2 * H]                    # r and z see a + u
    np.multiply(da_n, r, out=du[:, 2 * H :])           # n sees a_n + r * u_n
    dh_direct = dh * z                                 # h = ... + z * h_prev
    return da, du, dh_direct
