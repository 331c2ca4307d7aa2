"""Any variant of the cell over a whole sequence: ``VariantLSTM``.

The variants (``lstm_np.cells.variants``) are reference steps; this layer
runs one of them over a sequence, step by step, and backpropagates through
time by calling the step's backward in reverse. No fused kernels and no
buffers: it is the reference path, slower than ``lstm_np.LSTM`` (about
2-4x at small sizes) and as plain as the loop in notebook 02. For the
variant ``"lstm"`` it computes exactly what ``lstm_np.LSTM`` computes
(tested to 1e-12 in float64).

Shapes: B batch, T time steps, D input features, H hidden units, k the
number of gates the variant keeps (``VARIANTS[name].gates``).

Parameters (``VariantLSTM.params``; gradients in ``.grads``)::

    Wx : (D, kH)   input weights      gate blocks in the order of the variant's ``gates``
    Wh : (H, kH)   recurrent weights
    b  : (kH,)     bias
    p_i, p_f, p_o : (H,)   peephole weights (variant "peephole" only)

Initialisation: the same draws as ``lstm_np.LSTM`` with the same ``rng``
(``init_lstm_params``), keeping the blocks of the gates the variant has, and
zero peepholes. So with the same seed every variant starts from the same
weights on the parts they share, and ``"lstm"`` from exactly the LSTM's.

Masks mean what they mean for the LSTM: at a padded step (``mask[b, t] = 0``)
the state (h, c) is carried through unchanged, the output is zero, and the
step receives and passes no gradient. In backward a padded row's gradient
at the state skips the step (dh_prev = dh, dc_prev = dc).

The article's recurrence (variant ``"article"``) has no cell state: it takes
no ``c0`` (None or zeros), returns ``c_T`` as zeros and ``dc0`` as zeros, so
that the interface stays uniform.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_scalar, as_sequence, as_state, check_finite
from ..cells.lstm import GATES
from ..cells.variants import VARIANTS
from ._base import RecurrentLayer
from .lstm import init_lstm_params

__all__ = ["VariantLSTM", "VariantCache", "init_variant_params"]


class VariantCache(NamedTuple):
    """What ``VariantLSTM.forward`` keeps for backward."""

    variant: str
    steps: list              # T step caches, from the variant's step_forward
    mask: np.ndarray | None  # (T, B, 1) or None
    shape: tuple             # (B, T, D)
    params: dict             # the layer's params dict: backward refuses another layer's cache


def init_variant_params(variant, input_size, hidden_size, rng, dtype=np.float64, forget_bias=1.0):
    """Initial parameters of a variant: the LSTM's draws (``init_lstm_params``)
    restricted to the variant's gates, and zero peepholes.

    Parameters
    ----------
    variant : str
        A key of ``VARIANTS``.
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
    dtype : float32 or float64
    forget_bias : float
        Initial bias of the forget gate, where there is one.

    Returns
    -------
    dict
        ``{"Wx": (D, kH), "Wh": (H, kH), "b": (kH,)}`` plus ``p_i, p_f, p_o`` (H,)
        for the peephole variant.
    """
    v = VARIANTS[variant]
    H = hidden_size
    full = init_lstm_params(input_size, hidden_size, rng, dtype, forget_bias)
    cols = np.concatenate([np.arange(GATES.index(k) * H, (GATES.index(k) + 1) * H) for k in v.gates])
    params = {"Wx": full["Wx"][:, cols], "Wh": full["Wh"][:, cols], "b": full["b"][cols]}
    params.update({name: np.zeros(H, dtype) for name in v.peepholes})
    return params


class VariantLSTM(RecurrentLayer):
    """A variant of the LSTM cell over sequences, on the reference path.

    Parameters
    ----------
    variant : str
        One of ``lstm_np.cells.variants.VARIANTS``: "lstm", "peephole",
        "coupled", "no_forget", "no_input", "no_output", "no_input_act",
        "no_output_act", "article".
    input_size : int
        D, features per time step.
    hidden_size : int
        H, hidden units.
    rng : numpy.random.Generator or int or None
        Source of the initial weights (an int is a seed).
    dtype : float32 or float64
        Dtype of the parameters; inputs must have the same dtype.
    forget_bias : float
        Initial forget-gate bias, where the variant has a forget gate.

    Attributes
    ----------
    variant : str
    gates : str
        The gate blocks of ``Wx``, ``Wh``, ``b``, in order.
    params, grads : dict of ndarray
        See the module docstring; ``backward`` overwrites ``grads``.

    Examples
    --------
    >>> layer = VariantLSTM("coupled", input_size=3, hidden_size=4, rng=0)
    >>> layer.params["Wx"].shape                      # gates f, o, g
    (3, 12)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 3))
    >>> out, (h, c), cache = layer.forward(x)
    >>> dx, dh0, dc0 = layer.backward(np.ones_like(out), cache)
    """

    #: Takes and returns (h, c) like ``LSTM`` (read by ``sequence.stack``).
    has_cell_state = True

    def __init__(self, variant, input_size, hidden_size, *, rng=None, dtype=np.float64, forget_bias=1.0):
        if not isinstance(variant, str) or variant not in VARIANTS:
            raise ValueError(f"variant must be one of {list(VARIANTS)}; got {variant!r}")
        forget_bias = as_scalar("forget_bias", forget_bias)
        self.variant = variant
        self.gates = VARIANTS[variant].gates
        self._setup(input_size, hidden_size, rng, dtype, partial(init_variant_params, variant),
                    forget_bias=forget_bias)

    def __repr__(self):
        return (f"VariantLSTM({self.variant!r}, input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"dtype={self.dtype.name})")

    def forward(self, x, h0=None, c0=None, mask=None):
        """Run the variant over a batch of sequences, one reference step at a time.

        Parameters
        ----------
        x : (B, T, D) ndarray
        h0, c0 : (B, H) ndarray, optional
            Initial hidden and cell state; zeros when omitted. The article's
            variant has no cell state: its c0 must be None or zeros.
        mask : (B, T) array of 0/1 (bool, int or float), optional
            1 for a real step, 0 for padding (see the module docstring).

        Returns
        -------
        out : (B, T, H) ndarray
            Hidden state after each step; zero at padded steps.
        (h_T, c_T) : tuple of (B, H) ndarray
            Final state (zeros for c_T of the article's variant).
        cache : VariantCache
        """
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        x, mask = as_sequence(x, mask, D, dt)
        B, T, _ = x.shape
        h = as_state("h0", h0, B, H, dt)
        c = as_state("c0", c0, B, H, dt)
        v = VARIANTS[self.variant]
        if not v.has_cell and np.any(c):
            raise ValueError(f"c0: the variant {self.variant!r} has no cell state; pass c0=None (or zeros)")
        m = None if mask is None else mask.T[:, :, None]  # (T, B, 1)
        out = np.zeros((B, T, H), dtype=dt)
        steps = []
        for t in range(T):
            h_new, c_new, step_cache = v.step_forward(x[:, t], h, c, self.params)
            steps.append(step_cache)
            if m is None:
                h, c = h_new, c_new
            else:  # a padded step carries the previous state through unchanged
                h, c = np.where(m[t] == 1, h_new, h), np.where(m[t] == 1, c_new, c)
            out[:, t] = h if m is None else np.where(m[t] == 1, h, 0)
        return out, (h.copy(), c.copy()), VariantCache(self.variant, steps, m, (B, T, D), self.params)

    def backward(self, dout, cache, dh_T=None, dc_T=None):
        """Backpropagation through time; stores the parameter gradients in ``grads``.

        Parameters
        ----------
        dout : (B, T, H) ndarray
            Gradient of the loss with respect to ``out``.
        cache : VariantCache
            From ``forward`` of this layer.
        dh_T, dc_T : (B, H) ndarray, optional
            Gradient arriving at the final state (from a later chunk).

        Returns
        -------
        dx : (B, T, D) ndarray
        dh0, dc0 : (B, H) ndarray
            Gradients at the initial state (zeros for dc0 of the article's variant).
        """
        if not isinstance(cache, VariantCache):
            raise TypeError(f"cache must be the VariantCache returned by forward; got {type(cache).__name__}")
        if cache.variant != self.variant:
            raise ValueError(f"cache is from the variant {cache.variant!r}; this layer is {self.variant!r}")
        if cache.params is not self.params:
            raise ValueError("cache was made by another VariantLSTM (or before this layer's parameters were replaced); "
                             "backward needs the cache of this layer's own forward")
        B, T, D = cache.shape
        H, dt = self.hidden_size, self.dtype
        dout = as_float_array("dout", dout, ("B", "T", "H"), (B, T, H), dt)
        dh = as_state("dh_T", dh_T, B, H, dt).copy()
        dc = as_state("dc_T", dc_T, B, H, dt).copy()
        v, m = VARIANTS[self.variant], cache.mask
        dx = np.zeros((B, T, D), dtype=dt)
        grads = {k: np.zeros_like(p) for k, p in self.params.items()}
        for t in reversed(range(T)):
            dh_t = dh + dout[:, t]  # from the next step and from this step's output
            if m is None:
                dx[:, t], dh, dc, step_grads = v.step_backward(dh_t, dc, cache.steps[t])
            else:
                # A padded row's step affected nothing: it gets no gradient (its
                # own output gradient is dropped) and passes dh, dc through.
                dx[:, t], dh_step, dc_step, step_grads = v.step_backward(m[t] * dh_t, m[t] * dc, cache.steps[t])
                dh, dc = dh_step + (1 - m[t]) * dh, dc_step + (1 - m[t]) * dc
            for k, g in step_grads.items():
                grads[k] += g
        check_finite("VariantLSTM.backward", dx=dx, dh0=dh, dc0=dc, **{f"grads[{k!r}]": g for k, g in grads.items()})
        for k, g in grads.items():
            self.grads[k][...] = g
        return dx, dh, dc
