"""The LSTM over a whole sequence: forward, backpropagation through time, masks,
initial state, and weight exchange with PyTorch and Keras.

The equations of one step are in ``lstm_np.cells.lstm``; this is the fast
path, which computes the same numbers (tested to 1e-12 in float64) with the
element-wise kernels of ``lstm_np.sequence.fused``.

Shapes: B batch, T time steps, D input features, H hidden units.

Parameters (``LSTM.params``; gradients under the same names in ``LSTM.grads``)::

    Wx : (D, 4H)   input weights        z_t = x_t Wx + h_{t-1} Wh + b
    Wh : (H, 4H)   recurrent weights
    b  : (4H,)     bias

with the gates fused along the last axis in the order **i, f, o, g**
(``lstm_np.cells.lstm.GATES``).

How the work is laid out (the same arithmetic as ``cells.lstm.step_forward``, in
fewer, larger matrix products):

* one GEMM computes the input projections ``x_t Wx + b`` of all T steps;
* each step adds one recurrent GEMM ``h_{t-1} Wh`` and applies the gates,
  writing the new state straight into the cache's per-sequence arrays
  (allocated per call, or those of an earlier cache passed as ``reuse``);
* backward first computes the local derivatives (``fused.gate_partials``),
  which need only the stored activations, for a block of steps in one call;
  then walks the steps in reverse applying the chain rule
  (``fused.gates_backward``) and one GEMM ``dz_t Wh^T`` per step; then forms
  a chunk of steps' share of ``dWx``, ``dWh``, ``db`` and ``dx`` with one
  GEMM each. For small problems block and chunk are the whole sequence; for
  large ones the block is one step (its arrays stay in the CPU cache) and the
  chunk keeps ``dz`` a fraction of the size of the cache.

Masks. ``mask[b, t] = 0`` marks a padded step: the state (h, c) passes
through it unchanged, its output ``hs[b, t]`` is zero, and it receives and
passes no gradient (its ``dhs`` is ignored; its ``dx`` is zero).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_scalar, as_sequence, as_state, check_cache, check_finite
from ..cells.lstm import GATES
from ._base import RecurrentLayer, orthogonal
from .fused import activation_scales, gate_partials, gates_backward, gates_forward
from .lstm_exchange import LSTMExchange

__all__ = ["LSTM", "LSTMCache", "lstm_forward", "lstm_backward", "init_lstm_params"]


class LSTMCache(NamedTuple):
    """What the forward pass keeps for backward (time-major arrays)."""

    x: np.ndarray        # (T*B, D)    inputs, time-major, flattened
    act: np.ndarray      # (T, B, 4H)  gate activations i, f, o, g
    hs: np.ndarray       # (T+1, B, H) carried hidden state; hs[0] = h0
    cs: np.ndarray       # (T+1, B, H) carried cell state;   cs[0] = c0
    tanh_c: np.ndarray   # (T, B, H)   tanh of each step's new cell state (before masking)
    mask: np.ndarray | None  # (T, B, 1) or None
    Wx: np.ndarray
    Wh: np.ndarray
    # Which forward last wrote these arrays: ``written_by[0]`` counts the calls
    # that used them (forward(..., reuse=...) adds one), ``call`` is this
    # cache's own number; backward refuses a cache whose arrays were overwritten.
    written_by: np.ndarray  # (1,) int64, shared by the caches of the same arrays
    call: int


def lstm_forward(x, Wx, Wh, b, h0, c0, mask=None, reuse=None):
    """Run the LSTM over a sequence (no argument checks: see ``LSTM.forward``).

    Parameters
    ----------
    x : (B, T, D) ndarray
    Wx : (D, 4H), Wh : (H, 4H), b : (4H,) ndarray
    h0, c0 : (B, H) ndarray
        Initial state.
    mask : (B, T) ndarray of 0/1 in x's dtype, optional
    reuse : LSTMCache, optional
        A cache of the same sizes whose arrays this call overwrites.

    Returns
    -------
    out : (B, T, H) ndarray
        Hidden state after each step (zero at padded steps).
    h_T, c_T : (B, H) ndarray
        Final state (carried through trailing padded steps).
    cache : LSTMCache
    """
    B, T, D = x.shape
    H = Wh.shape[0]
    xt, act, hs, cs, tanh_c = _cache_arrays(T, B, D, H, x.dtype) if reuse is None else reuse[:5]
    written_by = np.zeros(1, dtype=np.int64) if reuse is None else reuse.written_by
    written_by[0] += 1
    xt.reshape(T, B, D)[...] = x.transpose(1, 0, 2)  # time-major: step t is rows t*B .. (t+1)*B - 1
    # One GEMM for the input projections of every step, written straight into
    # the cache's array; the per-step loop then overwrites each step's slice
    # with that step's gate activations.
    np.matmul(xt, Wx, out=act.reshape(T * B, 4 * H))
    act += b
    hs[0], cs[0] = h0, c0
    hWh = np.empty((B, 4 * H), dtype=x.dtype)  # h_prev Wh, one buffer for every step
    scales = activation_scales(B, H, x.dtype)
    m = None if mask is None else np.ascontiguousarray(mask.T)[:, :, None]  # (T, B, 1)

    for t in range(T):
        z = act[t]
        z += np.dot(hs[t], Wh, out=hWh)  # z = x Wx + b + h_prev Wh
        gates_forward(z, cs[t], out=z, state_out=(cs[t + 1], tanh_c[t], hs[t + 1]), scales=scales)
        if m is not None:  # a padded step carries the previous state through unchanged
            np.copyto(cs[t + 1], cs[t], where=m[t] == 0)
            np.copyto(hs[t + 1], hs[t], where=m[t] == 0)

    # A new array, never a view of the cache: the caller may keep or modify it.
    out = np.empty((B, T, H), dtype=x.dtype)
    out_t = out.transpose(1, 0, 2)  # (T, B, H) view of out
    if m is None:
        out_t[...] = hs[1:]
    else:
        np.multiply(hs[1:], m, out=out_t)
    cache = LSTMCache(xt, act, hs, cs, tanh_c, m, Wx, Wh, written_by, int(written_by[0]))
    return out, hs[T].copy(), cs[T].copy(), cache


def _cache_shapes(T, B, D, H):
    """Shapes of the arrays the forward pass keeps: x (time-major), act, hs, cs, tanh_c."""
    return (T * B, D), (T, B, 4 * H), (T + 1, B, H), (T + 1, B, H), (T, B, H)


def _cache_arrays(T, B, D, H, dtype):
    """Fresh arrays for what the forward pass keeps (``_cache_shapes``)."""
    return tuple(np.empty(shape, dtype=dtype) for shape in _cache_shapes(T, B, D, H))


def _check_reusable(reuse, sizes, dtype, params, inputs):
    """Raise unless ``reuse`` is a cache from this layer's own earlier forward
    whose arrays fit sizes (T, B, D, H) and dtype, are writable and separate,
    and overlap neither the parameters nor the inputs this call reads."""
    if not isinstance(reuse, LSTMCache):
        raise TypeError(f"reuse must be an LSTMCache returned by forward; got {type(reuse).__name__}")
    if not (isinstance(reuse.written_by, np.ndarray) and reuse.written_by.shape == (1,)
            and reuse.written_by.dtype == np.int64):
        raise ValueError("reuse: the cache's written_by is not the (1,) int64 counter forward made")
    if reuse.Wx is not params["Wx"] or reuse.Wh is not params["Wh"]:
        raise ValueError(
            "reuse: this cache was made by another layer (or before this layer's parameters were replaced); "
            "pass a cache from this layer's own earlier forward, or none"
        )
    T, B, D, H = sizes
    arrays = reuse[:5]
    for name, a, shape in zip(LSTMCache._fields, arrays, _cache_shapes(T, B, D, H)):
        if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dtype or not a.flags.c_contiguous:
            got = f"{a.shape} {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(
                f"reuse: the cache's {name} is {got}; this call (B={B}, T={T}, D={D}, H={H}, {np.dtype(dtype)}) "
                f"needs a contiguous {shape} {np.dtype(dtype)} array. Pass a cache from a call with the same sizes, or none."
            )
        if not a.flags.writeable:
            raise ValueError(f"reuse: the cache's {name} is read-only")
    others = [*params.values(), *(v for v in inputs if v is not None)]
    for j, a in enumerate(arrays):
        if any(np.may_share_memory(a, v) for v in (*arrays[j + 1 :], *others)):
            raise ValueError(
                f"reuse: the cache's {LSTMCache._fields[j]} shares memory with another of its arrays, a parameter "
                "or an input of this call; pass a cache you no longer need, as forward returned it"
            )


def _check_cache(cache, layer):
    """Raise unless ``cache`` is an LSTMCache from ``layer``'s own forward; return its (T, B)."""
    D, H, dt = layer.input_size, layer.hidden_size, layer.dtype
    T, B = check_cache(cache, LSTMCache, layer.params,
                       lambda T, B: dict(zip(LSTMCache._fields, _cache_shapes(T, B, D, H))), dt, "LSTM")
    w = cache.written_by
    if not (isinstance(w, np.ndarray) and w.shape == (1,) and w.dtype == np.int64) or not isinstance(cache.call, int):
        raise ValueError("cache: its written_by/call are not the counter forward made; pass the cache forward returned")
    return T, B


def lstm_backward(dout, cache, dh_T=None, dc_T=None):
    """Backpropagation through time (no argument checks: see ``LSTM.backward``).

    Parameters
    ----------
    dout : (B, T, H) ndarray
        Gradient of the loss with respect to ``out``.
    cache : LSTMCache
        From ``lstm_forward``; left unchanged, so backward may run twice.
    dh_T, dc_T : (B, H) ndarray, optional
        Gradient arriving at the final state (e.g. from a later chunk).

    Returns
    -------
    dx : (B, T, D) ndarray
    dh0, dc0 : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``: views of ``g``.
    g : (D + H + 1, 4H) ndarray
        The three gradients in one array (rows of dWx, then dWh, then db),
        so that one reduction checks them all.
    """
    xt, act, hs, cs, tanh_c, m, Wx, Wh = cache[:8]
    T, B, H4 = act.shape
    H = H4 // 4
    D = xt.shape[1]
    dout_t = dout.transpose(1, 0, 2)  # (T, B, H) view, never written to
    dh = np.zeros((B, H), dtype=act.dtype) if dh_T is None else dh_T.copy()
    dc = np.zeros((B, H), dtype=act.dtype) if dc_T is None else dc_T.copy()
    g = np.empty((D + H + 1, H4), dtype=act.dtype)
    grads = {"Wx": g[:D], "Wh": g[D : D + H], "b": g[D + H]}
    dx = np.empty((B, T, D), dtype=act.dtype)
    K, k = _chunk_steps(T, B, H4)
    dz = np.empty((K, B, H4), dtype=act.dtype)      # partials, then dz, of one chunk's steps
    dh_dc = np.empty((K, B, H), dtype=act.dtype)
    f = act[:, :, H : 2 * H]
    padded = None if m is None else m == 0  # (T, B, 1)
    WhT = np.ascontiguousarray(Wh.T)  # BLAS multiplies by a contiguous matrix faster than by a transposed view

    for start in reversed(range(0, T, K)):  # chunks of K steps, the last chunk first
        stop = min(start + K, T)
        n = stop - start
        for lo in reversed(range(start, stop, k)):  # blocks of k steps within the chunk
            hi = min(lo + k, stop)
            # The local derivatives need only the forward pass: k steps in one call.
            block = slice(lo - start, hi - start)
            gate_partials(act[lo:hi], cs[lo:hi], tanh_c[lo:hi], out=dz[block], dh_dc=dh_dc[block])
            if m is not None:  # a padded step's cell affects nothing
                dz[block] *= m[lo:hi]
                dh_dc[block] *= m[lo:hi]
            for t in reversed(range(lo, hi)):
                dz_t = dz[t - start]
                if m is None:  # dh is this loop's own array (a copy, or the last np.dot's): add in place
                    dh += dout_t[t]  # from the next step and from this step's output
                    dh_t = dh
                else:  # a padded step passes dh on without its dout: keep dh
                    dh_t = dh + dout_t[t]
                dz_t, dc_prev = gates_backward(dh_t, dc, dz_t, dh_dc[t - start], f[t])  # in place: partials -> dz
                dh_prev = np.dot(dz_t, WhT)
                if m is not None:  # a padded step passes the gradient through, as it did the state
                    np.copyto(dh_prev, dh, where=padded[t])
                    np.copyto(dc_prev, dc, where=padded[t])
                dh, dc = dh_prev, dc_prev
        # This chunk's share of the parameter gradients and of dx: one GEMM each.
        dz_flat = dz[:n].reshape(-1, H4)
        x_chunk, h_chunk = xt[start * B : stop * B], hs[start:stop].reshape(-1, H)
        if stop == T:  # the last chunk, computed first: write (one chunk is the whole sum)
            np.matmul(x_chunk.T, dz_flat, out=grads["Wx"])
            np.matmul(h_chunk.T, dz_flat, out=grads["Wh"])
            np.sum(dz_flat, axis=0, out=grads["b"])
        else:  # the earlier chunks: add their share
            grads["Wx"] += x_chunk.T @ dz_flat
            grads["Wh"] += h_chunk.T @ dz_flat
            grads["b"] += dz_flat.sum(axis=0)
        dx[:, start:stop] = (dz_flat @ Wx.T).reshape(n, B, D).transpose(1, 0, 2)
    return dx, dh, dc, grads, g


def _chunk_steps(T, B, H4):
    """Steps per backward chunk and per block of local derivatives.

    K: the weight gradients are formed once per chunk of K steps, about 2 Mi
    elements of dz (8 MiB in float32), all T steps when that fits (larger
    chunks are no faster, measured at B 256, H 512; they only cost memory).
    k: the local derivatives are computed k steps per call, about 256 Ki elements:
    all steps at once for small problems, where each NumPy call costs more
    than its arithmetic, one step at a time for large ones, so that the
    arrays are still in the CPU cache when the step uses them.
    """
    K = max(1, min(T, (1 << 21) // (B * H4)))
    k = max(1, min(K, (1 << 18) // (B * H4)))
    return K, k


def init_lstm_params(input_size, hidden_size, rng, dtype=np.float64, forget_bias=1.0):
    """Initial parameters: Glorot-uniform Wx, orthogonal Wh, zero bias but f.

    Each gate's block of ``Wx`` is drawn from U(-a, a) with
    a = sqrt(6 / (D + H)) (Glorot/Xavier); each gate's block of ``Wh`` is a
    random orthogonal (H, H) matrix, so repeated multiplication by it neither
    shrinks nor grows the state at the start; ``b`` is zero except the forget
    gate's block, set to ``forget_bias``.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
    dtype : float32 or float64
    forget_bias : float
        Initial forget-gate bias; 1.0 makes f = sigma(1) ~ 0.73 at the
        start, so the cell remembers (and gradients flow) until it learns
        when to forget.

    Returns
    -------
    dict
        ``{"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}``.
    """
    D, H = input_size, hidden_size
    a = np.sqrt(6.0 / (D + H))
    Wx = rng.uniform(-a, a, size=(D, 4 * H))
    Wh = np.concatenate([orthogonal(H, rng) for _ in GATES], axis=1)
    b = np.zeros(4 * H)
    b[GATES.index("f") * H : (GATES.index("f") + 1) * H] = forget_bias
    return {"Wx": Wx.astype(dtype), "Wh": Wh.astype(dtype), "b": b.astype(dtype)}


class LSTM(LSTMExchange, RecurrentLayer):
    """A single-layer LSTM over sequences, with explicit BPTT.

    Parameters
    ----------
    input_size : int
        D, features per time step.
    hidden_size : int
        H, hidden units.
    rng : numpy.random.Generator or int or None
        Source of the initial weights (an int is a seed). ``None`` draws a
        fresh, unpredictable seed; pass a seed to reproduce a run.
    dtype : float32 or float64
        Dtype of the parameters; inputs must have the same dtype.
    forget_bias : float
        Initial bias of the forget gate (see ``init_lstm_params``).

    Attributes
    ----------
    params : dict of ndarray
        ``"Wx"`` (D, 4H), ``"Wh"`` (H, 4H), ``"b"`` (4H,); gate order
        i, f, o, g. Optimizers update these arrays in place.
    grads : dict of ndarray
        Same names and shapes; overwritten by each ``backward``.

    Examples
    --------
    >>> lstm = LSTM(input_size=3, hidden_size=4, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 3))   # (B, T, D)
    >>> out, (h, c), cache = lstm.forward(x)
    >>> out.shape, h.shape
    ((2, 5, 4), (2, 4))
    >>> dx, dh0, dc0 = lstm.backward(np.ones_like(out), cache)
    """

    def __init__(self, input_size, hidden_size, *, rng=None, dtype=np.float64, forget_bias=1.0):
        forget_bias = as_scalar("forget_bias", forget_bias)
        self._setup(input_size, hidden_size, rng, dtype, init_lstm_params, forget_bias=forget_bias)

    # ------------------------------------------------------------------ forward/backward

    def forward(self, x, h0=None, c0=None, mask=None, *, reuse=None):
        """Run the LSTM over a batch of sequences.

        Parameters
        ----------
        x : (B, T, D) ndarray
        h0, c0 : (B, H) ndarray, optional
            Initial hidden and cell state; zeros when omitted.
        mask : (B, T) array of 0/1 (bool, int or float), optional
            1 for a real step, 0 for padding (see the module docstring).
        reuse : LSTMCache, optional
            A cache from this layer's own earlier call with the same B and T
            that you no longer need: this call writes its cache into the same
            arrays instead of allocating new ones; ``backward`` then refuses
            the old cache (its arrays hold this call now).
            Each call otherwise allocates about T·B·(D + 7H) numbers, which
            the operating system must map and zero; in a training loop over
            batches of one shape, ``cache = lstm.forward(x, reuse=cache)[2]``
            saves that. Results are the same with or without it; ``out``
            and the final state are always new arrays.

        Returns
        -------
        out : (B, T, H) ndarray
            Hidden state after each step; zero at padded steps.
        (h_T, c_T) : tuple of (B, H) ndarray
            Final state, to continue with the next chunk of the sequences.
        cache : LSTMCache
            Pass to ``backward``.
        """
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        x, mask = as_sequence(x, mask, D, dt)
        B, T, _ = x.shape
        h0 = as_state("h0", h0, B, H, dt)
        c0 = as_state("c0", c0, B, H, dt)
        p = self.params
        if reuse is not None:
            _check_reusable(reuse, (T, B, D, H), dt, p, (x, h0, c0))
        out, h_T, c_T, cache = lstm_forward(x, p["Wx"], p["Wh"], p["b"], h0, c0, mask, reuse)
        return out, (h_T, c_T), cache

    def backward(self, dout, cache, dh_T=None, dc_T=None):
        """Backpropagation through time; stores the parameter gradients in ``grads``.

        Parameters
        ----------
        dout : (B, T, H) ndarray
            Gradient of the loss with respect to ``out``.
        cache : LSTMCache
            From ``forward``.
        dh_T, dc_T : (B, H) ndarray, optional
            Gradient arriving at the final state (from a later chunk).

        Returns
        -------
        dx : (B, T, D) ndarray
        dh0, dc0 : (B, H) ndarray
            Gradients for the initial state (pass to the previous chunk).
        """
        T, B = _check_cache(cache, self)
        if cache.written_by[0] != cache.call:
            raise ValueError(
                "cache: its arrays were overwritten by a later forward(..., reuse=cache); backward needs the "
                "cache of the forward it differentiates (reuse a cache only once you are done with it)"
            )
        H, dt = self.hidden_size, self.dtype
        dout = as_float_array("dout", dout, ("B", "T", "H"), (B, T, H), dt)
        dh_T = as_state("dh_T", dh_T, B, H, dt, zeros_if_none=False)
        dc_T = as_state("dc_T", dc_T, B, H, dt, zeros_if_none=False)
        with np.errstate(over="ignore", invalid="ignore"):
            dx, dh0, dc0, grads, g = lstm_backward(dout, cache, dh_T, dc_T)
        check_finite("LSTM.backward", dx=dx, dh0=dh0, dc0=dc0, grads=g)
        for k, g in grads.items():
            self.grads[k][...] = g
        return dx, dh0, dc0
