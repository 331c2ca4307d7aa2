"""What the three recurrent layers (LSTM, GRU, RNN) share: sizes, dtype,
``params``/``grads`` dicts, ``repr``, and construction from given arrays
(used by the PyTorch/Keras weight exchange). The math lives in each layer's
own module.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_dtype, as_rng, check_sizes

__all__ = ["RecurrentLayer"]


class RecurrentLayer:
    """Base class; subclasses call ``_setup`` from ``__init__``.

    Attributes
    ----------
    input_size, hidden_size : int
        D and H.
    dtype : numpy dtype
        float32 or float64; inputs must match it.
    params : dict of ndarray
        ``Wx`` (D, kH), ``Wh`` (H, kH) and the biases, k gates fused.
    grads : dict of ndarray
        Same names and shapes; overwritten by each ``backward``.
    """

    def _setup(self, input_size, hidden_size, rng, dtype, init, **init_kwargs):
        """Check the sizes and dtype, then draw the parameters with ``init(D, H, rng, dtype, ...)``."""
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.dtype = as_float_dtype(dtype)
        self._set_params(init(self.input_size, self.hidden_size, as_rng(rng), self.dtype, **init_kwargs))

    def _set_params(self, params):
        self.params = {k: np.array(v, order="C") for k, v in params.items()}  # own contiguous copies
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    @classmethod
    def _from_params(cls, **params):
        """A layer holding ``params`` (``Wx`` (D, kH), ``Wh`` (H, kH), biases), already checked."""
        layer = cls.__new__(cls)
        layer.input_size, layer.hidden_size = params["Wx"].shape[0], params["Wh"].shape[0]
        layer.dtype = params["Wx"].dtype
        layer._set_params(params)
        return layer

    def __repr__(self):
        return (f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"dtype={self.dtype.name})")
