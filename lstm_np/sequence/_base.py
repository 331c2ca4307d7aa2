"""What the three recurrent layers (LSTM, GRU, RNN) share: sizes, dtype,
``params``/``grads`` dicts, ``repr``, and construction from given arrays
(used by the PyTorch/Keras weight exchange). The math lives in each layer's
own module.
"""

from __future__ import annotations

import numpy as np

from collections.abc import Mapping, Sequence

from .._checks import as_float_array, as_float_dtype, as_real_array, as_rng, check_fits_memory, check_sizes

__all__ = ["RecurrentLayer", "read_torch_state", "read_keras_weights", "orthogonal", "check_torch_mapping",
           "one_float_dtype"]

_TORCH_KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _label(gates):
    return "H" if gates == 1 else f"{gates}H"


def check_torch_mapping(state_dict):
    """Raise TypeError unless ``state_dict`` is a mapping (a list, None or an array is not a state dict)."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a dict of name -> array (PyTorch's state_dict()); "
                        f"got {type(state_dict).__name__}")


def one_float_dtype(state_dict, dtype):
    """``dtype`` if given; else raise TypeError when the floating arrays of ``state_dict`` mix dtypes.

    Reading a float32 ``weight_ih_l0`` beside float64 weights would otherwise make every array float32
    without a word (the layer's dtype comes from ``weight_ih_l0``): no silent casting.
    """
    if dtype is not None:
        return
    found = {}
    for k, v in state_dict.items():
        kind = getattr(getattr(v, "dtype", None), "kind", None)
        if kind == "f":
            found.setdefault(v.dtype.name, []).append(str(k))
    if len(found) > 1:
        listed = "; ".join(f"{name}: {', '.join(sorted(keys))}" for name, keys in sorted(found.items()))
        raise TypeError(f"state_dict mixes floating dtypes ({listed}); convert them to one, or pass dtype= "
                        "to read every array as that dtype")


def read_torch_state(state_dict, gates, module, dtype=None):
    """Check a single-layer PyTorch state dict whose matrices stack ``gates`` blocks.

    Parameters
    ----------
    state_dict : mapping of str to array
        ``weight_ih_l0`` (kH, D), ``weight_hh_l0`` (kH, H) and optionally
        ``bias_ih_l0``, ``bias_hh_l0`` (kH,), with k = ``gates``.
    gates : int
        4 for nn.LSTM, 3 for nn.GRU, 1 for nn.RNN.
    module : str
        Named in the error for unsupported keys, e.g. ``"nn.GRU"``.
    dtype : float32 or float64, optional
        Defaults to the dtype of ``weight_ih_l0``.

    Returns
    -------
    W_ih, W_hh, b_ih, b_hh : ndarray of ``dtype``
        In PyTorch's layout; missing biases (``bias=False``: both are missing) are zeros.

    Raises
    ------
    TypeError
        Not a mapping; arrays that mix floating dtypes while ``dtype`` is None.
    ValueError
        Unknown or missing keys, one bias without the other, shapes that do not fit together (a
        transposed ``weight_ih_l0`` is named as such, not blamed on ``weight_hh_l0``).
    """
    check_torch_mapping(state_dict)
    extra = sorted(set(state_dict) - set(_TORCH_KEYS), key=str)
    if extra:
        raise ValueError(
            f"state_dict has keys {extra} that a single-layer, unidirectional {module} does not have; "
            f"only {', '.join(_TORCH_KEYS)} are supported"
        )
    for k in _TORCH_KEYS[:2]:
        if k not in state_dict:
            raise ValueError(f"state_dict is missing {k!r}")
    biases = [k for k in _TORCH_KEYS[2:] if k in state_dict]
    if len(biases) == 1:
        other = ({*_TORCH_KEYS[2:]} - {biases[0]}).pop()
        raise ValueError(f"state_dict has {biases[0]} but not {other}; a PyTorch module has both (bias=True) "
                         "or neither (bias=False)")
    one_float_dtype(state_dict, dtype)
    dtype = _default_dtype("weight_ih_l0", state_dict["weight_ih_l0"], dtype)
    W_ih = as_real_array("weight_ih_l0", state_dict["weight_ih_l0"], dtype)
    kH = _label(gates)
    W_hh = as_real_array("weight_hh_l0", state_dict["weight_hh_l0"], dtype)
    if W_hh.ndim == 2 and W_hh.shape[1] >= 1 and W_hh.shape[0] == gates * W_hh.shape[1] \
            and (W_ih.ndim != 2 or W_ih.shape[0] != W_hh.shape[0]):
        # weight_hh_l0 is a well-formed (kH, H): H is known, and it is weight_ih_l0 that does not fit it.
        H = W_hh.shape[1]
        looks = " (it looks transposed: (D, kH))" if W_ih.ndim == 2 and W_ih.shape[1] == gates * H else ""
        raise ValueError(f"weight_ih_l0 has shape {W_ih.shape}; expected ({kH}, D) = ({gates * H}, D), H = {H} "
                         f"being the hidden size of weight_hh_l0 {W_hh.shape}{looks}")
    if W_ih.ndim != 2 or W_ih.shape[0] % gates:
        raise ValueError(f"weight_ih_l0 has shape {W_ih.shape}; expected ({kH}, D)")
    H, D = W_ih.shape[0] // gates, W_ih.shape[1]
    _check_exchange_sizes("weight_ih_l0", W_ih.shape, D, H)

    def read(name, dims, sizes):
        return as_float_array(name, as_real_array(name, state_dict[name], dtype), dims, sizes, dtype)

    W_ih = read("weight_ih_l0", (kH, "D"), (gates * H, D))
    W_hh = read("weight_hh_l0", (kH, "H"), (gates * H, H))
    b_ih, b_hh = (
        read(k, (kH,), (gates * H,)) if k in state_dict else np.zeros(gates * H, dtype) for k in _TORCH_KEYS[2:]
    )
    return W_ih, W_hh, b_ih, b_hh


def _default_dtype(name, a, dtype):
    """``dtype`` checked, or when None the dtype of ``a`` if floating, else float64."""
    if dtype is not None:
        return as_float_dtype(dtype)
    kind = getattr(getattr(a, "dtype", None), "kind", None)
    return as_float_dtype(a.dtype) if kind == "f" and a.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _check_exchange_sizes(name, shape, D, H):
    if D < 1 or H < 1:
        raise ValueError(f"{name} has shape {shape}, which means input_size D={D} and hidden_size H={H}; "
                         "both must be at least 1")


def read_keras_weights(weights, gates, dtype=None):
    """Check a Keras layer's ``get_weights()`` list: kernel (D, kH), recurrent kernel (H, kH), bias.

    Returns
    -------
    kernel, recurrent_kernel : ndarray of ``dtype``
    bias : ndarray of ``dtype`` (the caller checks its layout), or None when left out
    dtype : numpy dtype
        ``dtype``, or the kernel's when None.
    """
    if isinstance(weights, (str, bytes, Mapping, np.ndarray)) or not isinstance(weights, Sequence):
        raise TypeError(f"weights must be a list of arrays (a Keras layer's get_weights()); got {type(weights).__name__}")
    if len(weights) not in (2, 3):
        raise ValueError(
            f"weights has {len(weights)} arrays; expected [kernel, recurrent_kernel, bias] "
            "(or the first two when use_bias=False)"
        )
    dtype = _default_dtype("kernel", weights[0], dtype)
    kernel = as_real_array("kernel", weights[0], dtype)
    kH = _label(gates)
    if kernel.ndim != 2 or kernel.shape[1] % gates:
        raise ValueError(f"kernel has shape {kernel.shape}; expected (D, {kH})")
    D, H = kernel.shape[0], kernel.shape[1] // gates
    _check_exchange_sizes("kernel", kernel.shape, D, H)
    kernel = as_float_array("kernel", kernel, ("D", kH), (D, gates * H), dtype)
    rec = as_float_array("recurrent_kernel", as_real_array("recurrent_kernel", weights[1], dtype),
                         ("H", kH), (H, gates * H), dtype)
    bias = as_real_array("bias", weights[2], dtype) if len(weights) == 3 else None
    return kernel, rec, bias, dtype


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

    #: False for a layer read from a PyTorch state dict without biases (``bias=False``): its ``to_torch``
    #: then writes none, so that the dict loads (strictly) into such a module again.
    torch_bias = True

    def _torch_state(self, state):
        """``state`` (a ``to_torch`` dict) without its bias entries when the layer came without biases."""
        if self.torch_bias:
            return state
        if any(np.any(v != 0) for k, v in state.items() if k.startswith("bias_")):
            raise ValueError(f"{type(self).__name__} was read from a PyTorch state dict without biases "
                             "(bias=False), and its biases are no longer zero (trained since?): a bias=False "
                             "module cannot hold them. Set layer.torch_bias = True to write them")
        return {k: v for k, v in state.items() if not k.startswith("bias_")}

    def _setup(self, input_size, hidden_size, rng, dtype, init, **init_kwargs):
        """Check the sizes and dtype, then draw the parameters with ``init(D, H, rng, dtype, ...)``."""
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.dtype = as_float_dtype(dtype)
        D, H = self.input_size, self.hidden_size  # at most 4 gates: Wx, Wh, b and their grads, plus init's temporaries
        check_fits_memory(f"{type(self).__name__}(input_size={D}, hidden_size={H})", 3 * 4 * H * (D + H + 2),
                          self.dtype)
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


def orthogonal(n, rng):
    """A random orthogonal (n, n) matrix, uniformly distributed (QR of a Gaussian matrix)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes q uniformly distributed
