"""minLSTM and minGRU over whole sequences: a parallel scan in log space beside the step loop.

The equations of one step are in ``lstm_np.cells.minrnn``. Because no gate
sees h_prev, both cells are a linear recurrence

    h_t = a_t * h_{t-1} + b_t          minLSTM: a = f_norm, b = i_norm * h_tilde
                                       minGRU:  a = 1 - z,  b = z * h_tilde

whose coefficients come from one GEMM over all T steps. The layers compute
it two ways, chosen by ``method``:

* ``"loop"``: ``h = a[t] * h + b[t]`` for t = 1 .. T, one element-wise
  multiply-add per step (no matrix product inside the loop, unlike the LSTM);
* ``"scan"``: all steps at once, in log space (``linear_scan``)::

      a*_t  = cumsum_{k <= t} log a_k                      log of A_t = a_1 ... a_t
      h_t   = A_t (h_0 + sum_{k <= t} b_k / A_k)
      log h = a*_t + logcumsumexp_{k <= t}(log b_k - a*_k)   (h_0 as the term k = 0, a*_0 = 0)

  ``b`` and ``h_0`` may be negative (``h_tilde = x W_h`` is not squashed), so
  the positive and the negative terms get a logcumsumexp each and
  h = exp(a* + P) - exp(a* + N). (The paper instead makes h_tilde positive
  with g(x) = x + 1/2 for x >= 0, sigma(x) below, and needs one.) The
  running log-sum-exp is ``np.logaddexp.accumulate``: exact at every step
  however far the terms spread; a shift by one global maximum before a plain
  cumsum would underflow the early terms of long sequences.

Both give the same numbers (tested to 1e-12 in float64); ``"loop"`` is the
layers' default. The scan is
"parallel" in the paper's sense (depth O(log T) on a GPU); in NumPy it is one
sequential C loop per cumulative operation, so what it saves here is the
Python overhead of T iterations, at the price of an exp, a log and a
log-add-exp per entry: ``benchmarks/bench_scan.py`` measures which wins.
In float32 the scan loses precision on long sequences (a*_t grows like t,
and its rounding error with it); the loop does not.

Backward is the same kind of recurrence run backwards in time: with g_t the
gradient at the carried h_t,

    g_t = m_t dout_t + a_{t+1} g_{t+1},   g_T = m_T dout_T + dh_T

computed by the same ``method``, then da_t = g_t h_{t-1}, db_t = g_t for all
steps at once, the gates' local derivatives (as in the cell's backward) and
one GEMM each for dWx and dx. There is no recurrent weight matrix.

Parameters (``.params``; gradients under the same names in ``.grads``)::

    minLSTM:  Wx (D, 3H) gate order f, i, h;  b (3H,)
    minGRU:   Wx (D, 2H) gate order z, h;     b (2H,)

Masks as for the LSTM: at a padded step (``mask[b, t] = 0``) the state passes
through unchanged (a = 1, b = 0), the output is zero, and no gradient is
received or passed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_sequence, as_state, check_finite
from ..cells.lstm import sigmoid
from ..cells.minrnn import MINGRU_GATES, MINLSTM_GATES
from ..cells.slstm import log_sigmoid
from ._base import RecurrentLayer

__all__ = ["MinLSTM", "MinGRU", "MinRNNCache", "linear_scan", "linear_loop", "METHODS"]

#: The two ways of running the recurrence.
METHODS = ("scan", "loop")


# --------------------------------------------------------------------------- the recurrence


def linear_loop(a, b, h0):
    """h_t = a_t h_{t-1} + b_t, step by step.

    Parameters
    ----------
    a, b : (T, B, H) ndarray
    h0 : (B, H) ndarray

    Returns
    -------
    hs : (T + 1, B, H) ndarray
        ``hs[0] = h0``, ``hs[t]`` = h_t.
    """
    hs = np.empty((a.shape[0] + 1,) + a.shape[1:], dtype=a.dtype)
    hs[0] = h0
    for t in range(a.shape[0]):
        np.multiply(a[t], hs[t], out=hs[t + 1])
        hs[t + 1] += b[t]
    return hs


def linear_scan(log_a, b, h0):
    """h_t = a_t h_{t-1} + b_t for all t at once, in log space (see the module docstring).

    Parameters
    ----------
    log_a : (T, B, H) ndarray
        log a_t (a_t > 0; 0 where a_t = 1).
    b : (T, B, H) ndarray
        Any sign; zeros allowed.
    h0 : (B, H) ndarray
        Any sign.

    Returns
    -------
    hs : (T + 1, B, H) ndarray
        ``hs[0] = h0``, ``hs[t]`` = h_t.
    """
    T = log_a.shape[0]
    a_star = np.empty((T + 1,) + log_a.shape[1:], dtype=log_a.dtype)
    a_star[0] = 0.0
    np.cumsum(log_a, axis=0, out=a_star[1:])
    v = np.concatenate([h0[None], b])                    # the terms: h_0, then b_1 .. b_T
    with np.errstate(divide="ignore"):                   # log 0 = -inf: a zero term adds nothing
        log_v = np.log(np.abs(v)) - a_star               # log |v_k| - a*_k
    minus_inf = v.dtype.type(-np.inf)
    P = np.logaddexp.accumulate(np.where(v > 0, log_v, minus_inf), axis=0)
    N = np.logaddexp.accumulate(np.where(v < 0, log_v, minus_inf), axis=0)
    hs = np.exp(a_star + P) - np.exp(a_star + N)
    hs[0] = h0                                           # exactly, not exp(log |h0|)
    return hs


def _run(method, log_a, a, b, h0):
    return linear_scan(log_a, b, h0) if method == "scan" else linear_loop(a, b, h0)


# --------------------------------------------------------------------------- the two cells' coefficients
# Each turns the pre-activations act = x Wx + b (T, B, kH) into the
# recurrence's coefficients a, b (and log a, which only the scan needs), and
# back: from the gradients dA, dB at a and b to the gradient at act.


def _normalised(a_f, a_i):
    """minLSTM's f, i, f_norm = f / (f + i), i_norm = i / (f + i), from the pre-activations.

    Where both gates round to 0 (sigma(z) is 0.0 below about z = -38 in
    float64) f / (f + i) would be 0 / 0; there f_norm is its limit
    sigma(a_f - a_i) (f ~ exp(a_f), i ~ exp(a_i)).
    """
    f, i = sigmoid(a_f), sigmoid(a_i)
    s = f + i
    with np.errstate(invalid="ignore"):
        f_norm, i_norm = f / s, i / s
    under = s == 0
    if under.any():
        f_norm[under], i_norm[under] = sigmoid(a_f[under] - a_i[under]), sigmoid(a_i[under] - a_f[under])
    return f, i, f_norm, i_norm


def _minlstm_coefficients(act, H, want_log):
    a_f, a_i, h_tilde = act[..., 0 * H : 1 * H], act[..., 1 * H : 2 * H], act[..., 2 * H : 3 * H]
    _, _, f_norm, i_norm = _normalised(a_f, a_i)
    # log f_norm = log sigma(log f - log i): defined even where f_norm itself rounds to 0
    log_a = log_sigmoid(log_sigmoid(a_f) - log_sigmoid(a_i)) if want_log else None
    return log_a, f_norm, i_norm * h_tilde


def _minlstm_dz(dA, dB, act, H):
    a_f, a_i, h_tilde = act[..., 0 * H : 1 * H], act[..., 1 * H : 2 * H], act[..., 2 * H : 3 * H]
    f, i, f_norm, i_norm = _normalised(a_f, a_i)
    df_norm, di_norm = dA, dB * h_tilde                   # as cells.minrnn.minlstm_step_backward
    dz_f = (df_norm - di_norm) * f_norm * i_norm * (1 - f)
    dz_i = (di_norm - df_norm) * f_norm * i_norm * (1 - i)
    return np.concatenate([dz_f, dz_i, dB * i_norm], axis=-1)


def _minlstm_a(act, H, want_log):
    a_f, a_i = act[..., 0 * H : 1 * H], act[..., 1 * H : 2 * H]
    log_a = log_sigmoid(log_sigmoid(a_f) - log_sigmoid(a_i)) if want_log else None
    return log_a, _normalised(a_f, a_i)[2]


def _mingru_coefficients(act, H, want_log):
    a_z, h_tilde = act[..., 0 * H : 1 * H], act[..., 1 * H : 2 * H]
    z = sigmoid(a_z)
    log_a = log_sigmoid(-a_z) if want_log else None       # log(1 - z) = log sigma(-a_z)
    return log_a, 1 - z, z * h_tilde


def _mingru_dz(dA, dB, act, H):
    a_z, h_tilde = act[..., 0 * H : 1 * H], act[..., 1 * H : 2 * H]
    z = sigmoid(a_z)
    dz = dB * h_tilde - dA                                # dh (h_tilde - h_prev), as cells.minrnn
    return np.concatenate([dz * z * (1 - z), dB * z], axis=-1)


def _mingru_a(act, H, want_log):
    a_z = act[..., 0 * H : 1 * H]
    return (log_sigmoid(-a_z) if want_log else None), 1 - sigmoid(a_z)


_CELLS = {"minlstm": (MINLSTM_GATES, _minlstm_coefficients, _minlstm_dz, _minlstm_a),
          "mingru": (MINGRU_GATES, _mingru_coefficients, _mingru_dz, _mingru_a)}


# --------------------------------------------------------------------------- the sequence


class MinRNNCache(NamedTuple):
    """What the forward pass keeps for backward (time-major arrays)."""

    cell: str                # "minlstm" or "mingru"
    x: np.ndarray            # (T*B, D)    inputs, time-major, flattened
    act: np.ndarray          # (T, B, kH)  pre-activations x Wx + b, gate order (f, i, h) or (z, h)
    hs: np.ndarray           # (T+1, B, H) carried hidden state; hs[0] = h0
    mask: np.ndarray | None  # (T, B, 1) or None
    Wx: np.ndarray


def minrnn_forward(cell, x, Wx, b, h0, mask=None, method="loop"):
    """Run minLSTM or minGRU over a sequence (no argument checks: see the layers' ``forward``).

    Parameters
    ----------
    cell : {"minlstm", "mingru"}
    x : (B, T, D) ndarray
    Wx : (D, kH) ndarray, b : (kH,) ndarray
    h0 : (B, H) ndarray
    mask : (B, T) ndarray of 0/1 in x's dtype, optional
    method : {"scan", "loop"}

    Returns
    -------
    out : (B, T, H) ndarray
    h_T : (B, H) ndarray
    cache : MinRNNCache
    """
    B, T, D = x.shape
    gates, coefficients = _CELLS[cell][:2]
    H = Wx.shape[1] // len(gates)
    xt = x.transpose(1, 0, 2).copy().reshape(T * B, D)
    act = (xt @ Wx + b).reshape(T, B, len(gates) * H)    # one GEMM for every step's pre-activations
    log_a, a, bb = coefficients(act, H, method == "scan")
    m = None if mask is None else np.ascontiguousarray(mask.T)[:, :, None]
    if m is not None:  # a padded step: a = 1 (log a = 0), b = 0
        a, bb = np.where(m > 0, a, 1), m * bb
        log_a = None if log_a is None else np.where(m > 0, log_a, 0)
    hs = _run(method, log_a, a, bb, h0)
    out = hs[1:] if m is None else hs[1:] * m
    out = out.transpose(1, 0, 2).copy()
    return out, hs[T].copy(), MinRNNCache(cell, xt, act, hs, m, Wx)


def minrnn_backward(dout, cache, dh_T=None, method="loop"):
    """Backpropagation through time (no argument checks: see the layers' ``backward``).

    Parameters
    ----------
    dout : (B, T, H) ndarray
    cache : MinRNNCache
    dh_T : (B, H) ndarray, optional
    method : {"scan", "loop"}
        How to run the backward recurrence g_t = m_t dout_t + a_{t+1} g_{t+1}.

    Returns
    -------
    dx : (B, T, D) ndarray
    dh0 : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, kH), "b": (kH,)}``.
    """
    cell, xt, act, hs, m, Wx = cache
    gates, _, dz_of, coefficient_a = _CELLS[cell]
    T, B, kH = act.shape
    H = kH // len(gates)
    D = xt.shape[1]
    log_a, a = coefficient_a(act, H, method == "scan")
    dout_t = dout.transpose(1, 0, 2)
    if m is not None:
        a, dout_t = np.where(m > 0, a, 1), m * dout_t
        log_a = None if log_a is None else np.where(m > 0, log_a, 0)
    # Coefficients of the reversed recurrence: g_t = c_t g_{t+1} + dout_t, c_t = a_{t+1}, c_T = 1.
    c = np.concatenate([a[1:], np.ones((1, B, H), a.dtype)])
    g0 = np.zeros((B, H), act.dtype) if dh_T is None else dh_T
    if method == "scan":
        log_c = np.concatenate([log_a[1:], np.zeros((1, B, H), a.dtype)])
        g = linear_scan(log_c[::-1], dout_t[::-1], g0)[1:][::-1]
    else:
        g = linear_loop(c[::-1], dout_t[::-1], g0)[1:][::-1]
    dh0 = a[0] * g[0]
    dA, dB = g * hs[:-1], g
    if m is not None:
        dA, dB = m * dA, m * dB
    dz = dz_of(dA, dB, act, H).reshape(T * B, kH)
    grads = {"Wx": xt.T @ dz, "b": dz.sum(axis=0)}
    dx = (dz @ Wx.T).reshape(T, B, D).transpose(1, 0, 2)
    return np.ascontiguousarray(dx), dh0, grads


# --------------------------------------------------------------------------- the layers


def _init_params(gates, D, H, rng, dtype):
    """Glorot-uniform Wx per gate block, zero bias."""
    a = np.sqrt(6.0 / (D + H))
    return {"Wx": rng.uniform(-a, a, size=(D, len(gates) * H)).astype(dtype),
            "b": np.zeros(len(gates) * H, dtype)}


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    return method


class _MinRNN(RecurrentLayer):
    """What MinLSTM and MinGRU share; the subclasses name the cell."""

    cell = None
    has_cell_state = False

    def __init__(self, input_size, hidden_size, *, rng=None, dtype=np.float64, method="loop"):
        self.method = _check_method(method)
        gates = _CELLS[self.cell][0]
        self._setup(input_size, hidden_size, rng, dtype, lambda D, H, r, dt: _init_params(gates, D, H, r, dt))

    def forward(self, x, h0=None, mask=None, *, method=None):
        """Run the layer over a batch of sequences.

        Parameters
        ----------
        x : (B, T, D) ndarray
        h0 : (B, H) ndarray, optional
            Initial hidden state; zeros when omitted.
        mask : (B, T) array of 0/1 (bool, int or float), optional
            1 for a real step, 0 for padding.
        method : {"scan", "loop"}, optional
            Defaults to the layer's ``method``; both give the same numbers.

        Returns
        -------
        out : (B, T, H) ndarray
            Hidden state after each step; zero at padded steps.
        h_T : (B, H) ndarray
            Final state.
        cache : MinRNNCache
            Pass to ``backward``.
        """
        method = self.method if method is None else _check_method(method)
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        x, mask = as_sequence(x, mask, D, dt)
        h0 = as_state("h0", h0, x.shape[0], H, dt)
        with np.errstate(over="ignore", invalid="ignore"):
            out, h_T, cache = minrnn_forward(self.cell, x, self.params["Wx"], self.params["b"], h0, mask, method)
        check_finite(f"{type(self).__name__}.forward", out=out)
        return out, h_T, cache

    def backward(self, dout, cache, dh_T=None, *, method=None):
        """Backpropagation through time; stores the parameter gradients in ``grads``.

        Parameters
        ----------
        dout : (B, T, H) ndarray
        cache : MinRNNCache
            From this layer's ``forward``.
        dh_T : (B, H) ndarray, optional
            Gradient arriving at the final state.
        method : {"scan", "loop"}, optional
            Defaults to the layer's ``method``.

        Returns
        -------
        dx : (B, T, D) ndarray
        dh0 : (B, H) ndarray
        """
        method = self.method if method is None else _check_method(method)
        T, B = self._check_cache(cache)
        H, dt = self.hidden_size, self.dtype
        dout = as_float_array("dout", dout, ("B", "T", "H"), (B, T, H), dt)
        dh_T = as_state("dh_T", dh_T, B, H, dt, zeros_if_none=False)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            dx, dh0, grads = minrnn_backward(dout, cache, dh_T, method)
        check_finite(f"{type(self).__name__}.backward", dx=dx, dh0=dh0,
                     **{f"grads[{k!r}]": g for k, g in grads.items()})
        for k, g in grads.items():
            self.grads[k][...] = g
        return dx, dh0

    def _check_cache(self, cache):
        name = type(self).__name__
        if not isinstance(cache, MinRNNCache):
            raise TypeError(f"cache must be the MinRNNCache returned by forward; got {type(cache).__name__}")
        if cache.cell != self.cell or cache.Wx is not self.params["Wx"]:
            raise ValueError(f"cache was made by another layer (or before this {name}'s parameters were replaced); "
                             "backward needs the cache of this layer's own forward")
        k = len(_CELLS[self.cell][0])
        act = cache.act
        if not (isinstance(act, np.ndarray) and act.ndim == 3):
            raise ValueError(f"cache.act is not a (T, B, {k}H) array: pass the cache its forward returned")
        T, B = act.shape[:2]
        D, H = self.input_size, self.hidden_size
        expected = {"x": (T * B, D), "act": (T, B, k * H), "hs": (T + 1, B, H)}
        if cache.mask is not None:
            expected["mask"] = (T, B, 1)
        for field, shape in expected.items():
            v = getattr(cache, field)
            if not (isinstance(v, np.ndarray) and v.dtype == self.dtype and v.shape == shape):
                got = f"{v.dtype}{v.shape}" if isinstance(v, np.ndarray) else type(v).__name__
                raise ValueError(f"cache.{field} is {got}; this {name} ({self.dtype}) needs a {self.dtype} array "
                                 f"of shape {shape}: pass the cache its forward returned")
        return T, B

    def __repr__(self):
        return (f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"dtype={self.dtype.name}, method={self.method!r})")


class MinLSTM(_MinRNN):
    """minLSTM over sequences (Feng et al., 2024): gates from the input only, a scan or a loop.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator or int or None
        Source of the initial weights (Glorot-uniform ``Wx``, zero ``b``).
    dtype : float32 or float64
    method : {"loop", "scan"}
        How ``forward`` and ``backward`` run the recurrence (the same
        numbers either way; see the module docstring). The loop is the
        default because it was the faster of the two for training batches
        on the CPU (``benchmarks/bench_scan.py``).

    Attributes
    ----------
    params, grads : dict of ndarray
        ``"Wx"`` (D, 3H), ``"b"`` (3H,), gate order f, i, h.

    Examples
    --------
    >>> layer = MinLSTM(3, 4, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 3))
    >>> out, h, cache = layer.forward(x)
    >>> dx, dh0 = layer.backward(np.ones_like(out), cache)
    """

    cell = "minlstm"


class MinGRU(_MinRNN):
    """minGRU over sequences (Feng et al., 2024): h = (1 - z) h_prev + z h_tilde, z and h_tilde from x.

    Parameters and attributes as ``MinLSTM``, with ``"Wx"`` (D, 2H) and
    ``"b"`` (2H,) in the gate order z, h.
    """

    cell = "mingru"
