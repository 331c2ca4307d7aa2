"""The sLSTM of xLSTM over a whole sequence: forward, backpropagation through time, masks, initial state.

The equations of one step, the stabiliser m and the normaliser n are in
``lstm_np.cells.slstm``; this module computes the same numbers for a whole
sequence, laid out like ``lstm_np.sequence.gru``: one GEMM for the input
projections of all T steps, one recurrent GEMM per step (the memory mixing:
every gate sees h_prev, so unlike minLSTM/minGRU there is no scan), and a
backward pass that collects ``dz_t`` for every step and then forms ``dWx``,
``dWh``, ``db`` and ``dx`` with one GEMM each.

Parameters (``SLSTM.params``; gradients under the same names in ``SLSTM.grads``)::

    Wx : (D, 4H)   input weights         z = x Wx + h_prev Wh + b, gate order i, f, z, o
    Wh : (H, 4H)   recurrent weights
    b  : (4H,)     bias

The state is four arrays, ``SLSTMState(h, c, n, m)``, each (B, H); so is the
gradient at a state (``dm`` is zero unless a loss reads c, n or m directly:
see ``cells.slstm``). ``forward`` takes ``h0`` as None (all four zero, as in
the official code), a (B, H) array (h0; c, n, m zero) or an ``SLSTMState``
(to continue from a previous chunk), and returns the final ``SLSTMState``;
``backward`` takes ``dh_T`` the same way and returns the gradient at the
initial state as an ``SLSTMState``. With that the layer has the GRU-style
interface of ``lstm_np.sequence.stack`` (``forward(x, h0, mask)``,
``backward(dout, cache, dh_T)``), so ``Stack`` and the character model can
use it and carry its state across chunks.

Masks as for the LSTM: at a padded step (``mask[b, t] = 0``) all four states
pass through unchanged, the output is zero, and no gradient is received or
passed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_sequence, as_state, check_cache, check_finite
from ..cells.lstm import sigmoid
from ..cells.slstm import GATES, log_sigmoid
from ._base import RecurrentLayer, orthogonal

__all__ = ["GATES", "SLSTM", "SLSTMState", "SLSTMCache", "slstm_forward", "slstm_backward", "init_slstm_params"]


class SLSTMState(NamedTuple):
    """The sLSTM's state (or the gradient at it): four (B, H) arrays."""

    h: np.ndarray
    c: np.ndarray
    n: np.ndarray
    m: np.ndarray


class SLSTMCache(NamedTuple):
    """What the forward pass keeps for backward (time-major arrays)."""

    x: np.ndarray        # (T*B, D)    inputs, time-major, flattened
    act: np.ndarray      # (T, B, 4H)  i, f (stabilised), g = tanh(z_z), o
    log_f: np.ndarray    # (T, B, H)   log sigma(z_f)
    from_f: np.ndarray   # (T, B, H)   1 where m came from log_f + m_prev, 0 where from z_i
    hs: np.ndarray       # (T+1, B, H) carried states; [0] = the initial state
    cs: np.ndarray
    ns: np.ndarray
    ms: np.ndarray
    mask: np.ndarray | None  # (T, B, 1) or None
    Wx: np.ndarray
    Wh: np.ndarray


def slstm_forward(x, Wx, Wh, b, state0, mask=None):
    """Run the sLSTM over a sequence (no argument checks: see ``SLSTM.forward``).

    Parameters
    ----------
    x : (B, T, D) ndarray
    Wx : (D, 4H), Wh : (H, 4H), b : (4H,) ndarray
    state0 : SLSTMState of (B, H) arrays
    mask : (B, T) ndarray of 0/1 in x's dtype, optional

    Returns
    -------
    out : (B, T, H) ndarray
    state_T : SLSTMState
    cache : SLSTMCache
    """
    B, T, D = x.shape
    H = Wh.shape[0]
    xt = x.transpose(1, 0, 2).copy().reshape(T * B, D)
    act = (xt @ Wx + b).reshape(T, B, 4 * H)  # input projections of every step; overwritten with the gates
    log_f = np.empty((T, B, H), x.dtype)
    from_f = np.empty((T, B, H), x.dtype)
    hs, cs, ns, ms = (np.empty((T + 1, B, H), x.dtype) for _ in range(4))
    hs[0], cs[0], ns[0], ms[0] = state0
    m = None if mask is None else np.ascontiguousarray(mask.T)[:, :, None]

    for t in range(T):
        z = act[t]
        z += hs[t] @ Wh
        z_i = z[:, 0 * H : 1 * H].copy()
        log_f[t] = log_sigmoid(z[:, 1 * H : 2 * H])
        a = log_f[t] + ms[t]
        m_new = np.maximum(a, z_i)
        from_f[t] = a >= z_i
        i, f = np.exp(z_i - m_new), np.exp(a - m_new)
        g, o = np.tanh(z[:, 2 * H : 3 * H]), sigmoid(z[:, 3 * H : 4 * H])
        c = f * cs[t] + i * g
        n = f * ns[t] + i
        h = o * c / n
        act[t, :, 0 * H : 1 * H], act[t, :, 1 * H : 2 * H] = i, f
        act[t, :, 2 * H : 3 * H], act[t, :, 3 * H : 4 * H] = g, o
        for new, states in ((h, hs), (c, cs), (n, ns), (m_new, ms)):
            if m is None:
                states[t + 1] = new
            else:  # a padded step carries the previous state through unchanged
                np.copyto(states[t + 1], np.where(m[t], new, states[t]))

    out = hs[1:] if m is None else hs[1:] * m
    out = out.transpose(1, 0, 2).copy()
    state_T = SLSTMState(hs[T].copy(), cs[T].copy(), ns[T].copy(), ms[T].copy())
    return out, state_T, SLSTMCache(xt, act, log_f, from_f, hs, cs, ns, ms, m, Wx, Wh)


def slstm_backward(dout, cache, dstate_T):
    """Backpropagation through time (no argument checks: see ``SLSTM.backward``).

    Parameters
    ----------
    dout : (B, T, H) ndarray
    cache : SLSTMCache
    dstate_T : SLSTMState of (B, H) arrays
        Gradients arriving at the final h, c, n, m.

    Returns
    -------
    dx : (B, T, D) ndarray
    dstate0 : SLSTMState
    grads : dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``.
    """
    xt, act, log_f, from_f, hs, cs, ns, ms, m, Wx, Wh = cache
    T, B, H4 = act.shape
    H = H4 // 4
    D = xt.shape[1]
    dout_t = dout.transpose(1, 0, 2)
    dz = np.empty_like(act)
    dh, dc_next, dn_next, dm_next = (s.copy() for s in dstate_T)

    for t in reversed(range(T)):
        i, f = act[t, :, 0 * H : 1 * H], act[t, :, 1 * H : 2 * H]
        g, o = act[t, :, 2 * H : 3 * H], act[t, :, 3 * H : 4 * H]
        c, n, h = cs[t + 1], ns[t + 1], hs[t + 1]
        dh_t = dh + dout_t[t]
        if m is not None:  # a padded step receives nothing here and passes its gradients straight on
            dh_t, dc_in, dn_in, dm_in = m[t] * dh_t, m[t] * dc_next, m[t] * dn_next, m[t] * dm_next
        else:
            dc_in, dn_in, dm_in = dc_next, dn_next, dm_next
        # The lines of cells.slstm.step_backward, on this step's arrays.
        do = dh_t * c / n
        dc = dc_in + dh_t * o / n
        dn = dn_in - dh_t * h / n
        di = dc * g + dn
        df = dc * cs[t] + dn * ns[t]
        dg = dc * i
        dm = dm_in - di * i - df * f
        da = df * f + dm * from_f[t]
        dz[t, :, 0 * H : 1 * H] = di * i + dm * (1 - from_f[t])
        dz[t, :, 1 * H : 2 * H] = da * (1 - np.exp(log_f[t]))
        dz[t, :, 2 * H : 3 * H] = dg * (1 - g**2)
        dz[t, :, 3 * H : 4 * H] = do * o * (1 - o)
        dh_prev = dz[t] @ Wh.T
        if m is None:
            dh, dc_next, dn_next, dm_next = dh_prev, dc * f, dn * f, da
        else:
            keep = 1 - m[t]
            dh = dh_prev + keep * dh
            dc_next, dn_next, dm_next = dc * f + keep * dc_next, dn * f + keep * dn_next, da + keep * dm_next

    dz_flat = dz.reshape(T * B, H4)
    grads = {"Wx": xt.T @ dz_flat, "Wh": hs[:-1].reshape(T * B, H).T @ dz_flat, "b": dz_flat.sum(axis=0)}
    dx = (dz_flat @ Wx.T).reshape(T, B, D).transpose(1, 0, 2)
    return np.ascontiguousarray(dx), SLSTMState(dh, dc_next, dn_next, dm_next), grads


def init_slstm_params(input_size, hidden_size, rng, dtype=np.float64, forget_bias=(3.0, 6.0)):
    """Initial parameters: Glorot-uniform Wx, orthogonal Wh blocks, a forget gate that starts open.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
    dtype : float32 or float64
    forget_bias : (float, float)
        b_f is spread evenly from the first to the second value over the H
        units (xLSTM's code likewise starts the forget gates open, with a
        spread of time scales); the other biases are zero.

    Returns
    -------
    dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``, gate order i, f, z, o.
    """
    D, H = input_size, hidden_size
    a = np.sqrt(6.0 / (D + H))
    Wx = rng.uniform(-a, a, size=(D, 4 * H))
    Wh = np.concatenate([orthogonal(H, rng) for _ in GATES], axis=1)
    b = np.zeros(4 * H)
    b[1 * H : 2 * H] = np.linspace(forget_bias[0], forget_bias[1], H)
    return {"Wx": Wx.astype(dtype), "Wh": Wh.astype(dtype), "b": b.astype(dtype)}


def _as_slstm_state(name, s, B, H, dtype, zeros_if_none):
    """None, a (B, H) array (h; c, n, m zero) or four (B, H) arrays, as an SLSTMState (or None)."""
    if s is None:
        return SLSTMState(*(np.zeros((B, H), dtype) for _ in range(4))) if zeros_if_none else None
    if isinstance(s, np.ndarray) or not isinstance(s, (tuple, list)):
        h = as_state(f"{name}", s, B, H, dtype)
        return SLSTMState(h, *(np.zeros((B, H), dtype) for _ in range(3)))
    if len(s) != 4:
        raise ValueError(f"{name} has {len(s)} entries; expected an SLSTMState (h, c, n, m) of four (B, H) arrays")
    return SLSTMState(*(as_state(f"{name}.{k}", v, B, H, dtype) for k, v in zip(SLSTMState._fields, s)))


class SLSTM(RecurrentLayer):
    """A single-layer sLSTM (xLSTM) over sequences, with explicit BPTT.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator or int or None
        Source of the initial weights (an int is a seed).
    dtype : float32 or float64

    Attributes
    ----------
    params, grads : dict of ndarray
        ``"Wx"`` (D, 4H), ``"Wh"`` (H, 4H), ``"b"`` (4H,); gate order i, f, z, o.

    Examples
    --------
    >>> layer = SLSTM(3, 4, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 3))   # (B, T, D)
    >>> out, state, cache = layer.forward(x)                      # state: SLSTMState(h, c, n, m)
    >>> out2, state2, _ = layer.forward(x, state)                 # continue from it
    >>> dx, dstate0 = layer.backward(np.ones_like(out), cache)
    """

    has_cell_state = False  # GRU-style in a Stack: its state travels as one SLSTMState

    def __init__(self, input_size, hidden_size, *, rng=None, dtype=np.float64):
        self._setup(input_size, hidden_size, rng, dtype, init_slstm_params)

    def forward(self, x, h0=None, mask=None):
        """Run the sLSTM over a batch of sequences.

        Parameters
        ----------
        x : (B, T, D) ndarray
        h0 : None, (B, H) ndarray or SLSTMState, optional
            Initial state: None is all zeros; an array is h0 with c, n, m
            zero; an ``SLSTMState`` (h, c, n, m) continues a previous chunk
            (its n must be >= 0).
        mask : (B, T) array of 0/1 (bool, int or float), optional

        Returns
        -------
        out : (B, T, H) ndarray
            Hidden state after each step; zero at padded steps.
        state_T : SLSTMState
            Final state.
        cache : SLSTMCache
            Pass to ``backward``.
        """
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        x, mask = as_sequence(x, mask, D, dt)
        state0 = _as_slstm_state("h0", h0, x.shape[0], H, dt, zeros_if_none=True)
        if (state0.n < 0).any():
            raise ValueError("h0.n (the normaliser state) has negative entries; it is a sum of positive "
                             "input gates and must be >= 0")
        p = self.params
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out, state_T, cache = slstm_forward(x, p["Wx"], p["Wh"], p["b"], state0, mask)
        check_finite("SLSTM.forward", out=out)
        return out, state_T, cache

    def backward(self, dout, cache, dh_T=None):
        """Backpropagation through time; stores the parameter gradients in ``grads``.

        Parameters
        ----------
        dout : (B, T, H) ndarray
        cache : SLSTMCache
            From this layer's ``forward``.
        dh_T : None, (B, H) ndarray or SLSTMState, optional
            Gradient arriving at the final state (an array: at h only).

        Returns
        -------
        dx : (B, T, D) ndarray
        dstate0 : SLSTMState
            Gradient at the initial h, c, n, m.
        """
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        T, B = check_cache(cache, SLSTMCache, self.params,
                           lambda T, B: {"x": (T * B, D), "act": (T, B, 4 * H), "log_f": (T, B, H),
                                         "from_f": (T, B, H), "hs": (T + 1, B, H), "cs": (T + 1, B, H),
                                         "ns": (T + 1, B, H), "ms": (T + 1, B, H)}, dt, "SLSTM")
        dout = as_float_array("dout", dout, ("B", "T", "H"), (B, T, H), dt)
        dstate_T = _as_slstm_state("dh_T", dh_T, B, H, dt, zeros_if_none=True)
        with np.errstate(over="ignore", invalid="ignore"):
            dx, dstate0, grads = slstm_backward(dout, cache, dstate_T)
        check_finite("SLSTM.backward", dx=dx, **dict(zip(("dh0", "dc0", "dn0", "dm0"), dstate0)),
                     **{f"grads[{k!r}]": g for k, g in grads.items()})
        for k, g in grads.items():
            self.grads[k][...] = g
        return dx, dstate0
