"""Stacked recurrent layers: the output sequence of one layer is the input of the next.

Shapes: B batch, T time steps, D input features, H_k hidden units of layer k,
N layers.

With layers L_0 ... L_{N-1} and an input x (B, T, D)::

    out_0 = L_0(x)
    out_k = L_k(drop_{k-1}(out_{k-1}))      k = 1 .. N-1
    out   = out_{N-1}

where ``drop`` is inverted dropout between layers (as in PyTorch's
``nn.LSTM(num_layers=N, dropout=p)``: never on the input, never on the last
layer's output): each entry is kept with probability 1 - p and then divided
by 1 - p, so that its expected value is unchanged; at evaluation
(``train=False``) it is the identity.

Backward runs the layers in reverse: the gradient at the input of layer k
(times layer k-1's dropout mask) is the gradient at the output of layer k-1.

State. Each layer has its own initial and final state: for an LSTM-style
layer a pair ``(h, c)``, for a GRU/RNN-style layer an array ``h``. A stack's
state is a list with one entry per layer, and so is the gradient at a state;
``None`` (for the whole list or one entry) means zeros. Feeding the final
state of one chunk as the initial state of the next continues the
sequences exactly (truncated BPTT): two chunks give the same outputs as one
long forward.

Any layer with one of these interfaces can be stacked:

* LSTM-style: ``forward(x, h0, c0, mask) -> out, (h_T, c_T), cache`` and
  ``backward(dout, cache, dh_T, dc_T) -> dx, dh0, dc0``;
* GRU/RNN-style: ``forward(x, h0, mask) -> out, h_T, cache`` and
  ``backward(dout, cache, dh_T) -> dx, dh0``;

with ``params`` and ``grads`` dicts of arrays, ``backward`` overwriting the
``grads`` arrays. A layer is LSTM-style when it has an attribute
``has_cell_state = True`` or, failing that attribute, when its ``forward``
takes an argument named ``c0``.
"""

from __future__ import annotations

import inspect
import re
from typing import NamedTuple

import numpy as np

from .._checks import as_array, as_float_array, as_rng, check_distinct, check_sizes, unchanged_on_error
from ._base import check_torch_mapping, one_float_dtype
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN

__all__ = ["Stack", "StackCache", "has_cell_state", "CELLS"]

#: The built-in layers by name, as accepted by ``Stack.build`` and ``Stack.from_torch``.
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}

_TORCH_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(0|[1-9][0-9]*)$")  # l1, not l01


def has_cell_state(layer):
    """True for an LSTM-style layer (state ``(h, c)``), False for GRU/RNN-style (state ``h``)."""
    flag = getattr(layer, "has_cell_state", None)
    if flag is not None:
        return bool(flag)
    try:
        return "c0" in inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


class StackCache(NamedTuple):
    """What ``Stack.forward`` keeps for backward."""

    caches: list          # one cache per layer, from its forward
    masks: list           # dropout masks (B, T, H_k) applied to layer k's output, k < N-1; None when off
    shape: tuple          # (B, T) of the input


class Stack:
    """N recurrent layers applied one after another, with dropout between them.

    Parameters
    ----------
    layers : sequence of layers
        LSTM, GRU, RNN or any layer with one of the interfaces in the module
        docstring; layer k+1's input size must be layer k's hidden size.
    dropout : float in [0, 1)
        Probability of zeroing each entry of a layer's output before the
        next layer (not after the last). 0 disables it.
    rng : numpy.random.Generator or int or None
        Source of the dropout masks (an int is a seed): the same seed and
        the same calls give the same masks.

    Attributes
    ----------
    layers : list
    params, grads : dict of ndarray
        Every layer's arrays under ``"l{k}.{name}"``, e.g. ``"l1.Wx"``: the
        layers' own arrays (not copies), so an optimizer given ``params``
        updates the layers in place.

    Examples
    --------
    >>> stack = Stack.build("lstm", input_size=3, hidden_size=4, num_layers=2, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 3))      # (B, T, D)
    >>> out, state, cache = stack.forward(x)
    >>> out.shape, len(state), state[1][0].shape                     # (h, c) per layer
    ((2, 5, 4), 2, (2, 4))
    >>> dx, dstate0 = stack.backward(np.ones_like(out), cache)
    """

    def __init__(self, layers, *, dropout=0.0, rng=None):
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of recurrent layers; got {type(layers).__name__}")
        layers = list(layers)
        if not layers:
            raise ValueError("layers is empty; a stack needs at least one layer")
        for k, layer in enumerate(layers):
            if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
                raise TypeError(f"layers[{k}] is a {type(layer).__name__}; expected a recurrent layer "
                                "(LSTM, GRU, RNN, VariantLSTM or one with their forward/backward)")
        check_distinct("layers", layers)  # one layer twice: its second backward would overwrite the first's grads
        owner = {}
        for k, layer in enumerate(layers):  # nor two layers sharing a parameter array
            for name, v in (getattr(layer, "params", None) or {}).items():
                if id(v) in owner:
                    raise ValueError(f"layers[{owner[id(v)][0]}] and layers[{k}] share the array {name!r}; "
                                     "each layer of a stack needs its own parameters")
                owner[id(v)] = (k, name)
            if getattr(layer, "dtype", None) != getattr(layers[0], "dtype", None):
                raise ValueError(f"layers[{k}] has dtype {getattr(layer, 'dtype', None)} but layers[0] has "
                                 f"{getattr(layers[0], 'dtype', None)}; every layer of a stack needs the same dtype")
        for k in range(1, len(layers)):
            below, above = getattr(layers[k - 1], "hidden_size", None), getattr(layers[k], "input_size", None)
            if below is not None and above is not None and below != above:
                raise ValueError(
                    f"layer {k} has input_size {above} but layer {k - 1} has hidden_size {below}; "
                    "each layer's input is the previous layer's output"
                )
        if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, (int, float, np.integer, np.floating)):
            raise TypeError(f"dropout must be a number in [0, 1); got {type(dropout).__name__} {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1); got {dropout!r}")
        self.layers = layers
        self.dropout = float(dropout)
        self.rng = as_rng(rng)
        self._lstm_style = [has_cell_state(layer) for layer in layers]

    @classmethod
    def build(cls, cell, input_size, hidden_size, num_layers, *, rng=None, dtype=np.float64, dropout=0.0):
        """A stack of ``num_layers`` built-in layers of one kind and size.

        Parameters
        ----------
        cell : {"lstm", "gru", "rnn"}
        input_size : int
            D, features of the stack's input.
        hidden_size : int
            H, hidden units of every layer.
        num_layers : int
        rng : numpy.random.Generator or int or None
            Draws the layers' weights (in order) and then the dropout masks.
        dtype : float32 or float64
        dropout : float in [0, 1)
        """
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}; got {cell!r}")
        check_sizes(num_layers=num_layers)
        rng = as_rng(rng)
        layers = [CELLS[cell](input_size if k == 0 else hidden_size, hidden_size, rng=rng, dtype=dtype)
                  for k in range(num_layers)]
        return cls(layers, dropout=dropout, rng=rng)

    # ------------------------------------------------------------------ parameters

    @property
    def params(self):
        return {f"l{k}.{n}": v for k, layer in enumerate(self.layers) for n, v in layer.params.items()}

    @property
    def grads(self):
        return {f"l{k}.{n}": v for k, layer in enumerate(self.layers) for n, v in layer.grads.items()}

    @property
    def num_layers(self):
        return len(self.layers)

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Stack([{inner}], dropout={self.dropout})"

    # ------------------------------------------------------------------ forward/backward

    def _per_layer(self, name, value):
        """``value`` as a list with one entry per layer (None -> all None)."""
        if value is None:
            return [None] * len(self.layers)
        if isinstance(value, (str, bytes, np.ndarray)) or not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a list with one entry per layer (or None); got {type(value).__name__}")
        value = list(value)
        if len(value) != len(self.layers):
            raise ValueError(f"{name} has {len(value)} entries; expected one per layer ({len(self.layers)})")
        for k, (v, lstm_style) in enumerate(zip(value, self._lstm_style)):
            if v is not None and lstm_style and not (isinstance(v, (tuple, list)) and len(v) == 2):
                raise ValueError(f"{name}[{k}] must be a pair (h, c) for the LSTM-style layer {k}")
        return value

    def forward(self, x, state=None, mask=None, *, train=True, dropout_masks=None):
        """Run every layer over the batch of sequences.

        Parameters
        ----------
        x : (B, T, D) ndarray
        state : list, optional
            Initial state per layer: ``(h0, c0)`` of (B, H_k) arrays for an
            LSTM-style layer, ``h0`` (B, H_k) for a GRU/RNN-style one; None
            (or a None entry) is zeros.
        mask : (B, T) array of 0/1, optional
            Padded steps (0) are passed to every layer (see the layers).
        train : bool
            Dropout is applied only when True (and ``dropout > 0``); pass
            False to evaluate or sample.
        dropout_masks : list of N-1 ndarray, optional
            Use these masks (B, T, H_k) for the outputs of layers 0 .. N-2
            instead of drawing new ones (already scaled: entries 0 or
            1/(1-p)); for gradient checks and tests. Ignored when
            ``train=False``.

        Returns
        -------
        out : (B, T, H_{N-1}) ndarray
            Output of the last layer.
        state : list
            Final state per layer, in the same form as ``state``.
        cache : StackCache
            Pass to ``backward``.
        """
        state = self._per_layer("state", state)
        x = as_array("x", x)
        if x.ndim != 3:
            raise ValueError(f"x has shape {x.shape}; expected (B, T, D)")
        B, T = x.shape[:2]
        n_drop = len(self.layers) - 1
        use_dropout = train and (self.dropout > 0 or dropout_masks is not None)
        if use_dropout and dropout_masks is not None:
            dropout_masks = list(dropout_masks)
            if len(dropout_masks) != n_drop:
                raise ValueError(f"dropout_masks has {len(dropout_masks)} entries; expected {n_drop} "
                                 "(one per layer but the last)")
        # A later layer may refuse its state after masks were drawn for the layers below it: the generator
        # is put back, so a refused call changes no later result (a few microseconds; nothing else to undo).
        with unchanged_on_error(self.rng if use_dropout and dropout_masks is None else None):
            return self._forward(x, state, mask, use_dropout, dropout_masks, B, T)

    def _forward(self, x, state, mask, use_dropout, dropout_masks, B, T):
        caches, masks, final = [], [], []
        h = x
        for k, (layer, s, lstm_style) in enumerate(zip(self.layers, state, self._lstm_style)):
            if k > 0 and use_dropout:
                H = h.shape[2]
                if dropout_masks is not None:
                    m = as_float_array(f"dropout_masks[{k - 1}]", dropout_masks[k - 1], ("B", "T", "H"),
                                       (B, T, H), h.dtype)
                else:
                    keep = 1.0 - self.dropout
                    m = (self.rng.random((B, T, H)) < keep).astype(h.dtype) / h.dtype.type(keep)
                masks.append(m)
                h = h * m
            elif k > 0:
                masks.append(None)
            if lstm_style:
                h0, c0 = (None, None) if s is None else s
                h, (h_T, c_T), cache = layer.forward(h, h0, c0, mask)
                final.append((h_T, c_T))
            else:
                h, h_T, cache = layer.forward(h, s, mask)
                final.append(h_T)
            caches.append(cache)
        return h, final, StackCache(caches, masks, (B, T))

    def backward(self, dout, cache, dstate=None):
        """Backpropagation through the layers and through time; sets every layer's ``grads``.

        Parameters
        ----------
        dout : (B, T, H_{N-1}) ndarray
            Gradient of the loss at ``out``.
        cache : StackCache
            From ``forward``.
        dstate : list, optional
            Gradient arriving at each layer's final state (from a later
            chunk, or a loss on the state), in the form of ``state``; None
            (or a None entry) is zeros.

        Returns
        -------
        dx : (B, T, D) ndarray
        dstate0 : list
            Gradient at each layer's initial state, in the form of ``state``.
        """
        if not isinstance(cache, StackCache):
            raise TypeError(f"cache must be the StackCache returned by Stack.forward; got {type(cache).__name__}")
        N = len(self.layers)
        if not (isinstance(cache.caches, list) and len(cache.caches) == N
                and isinstance(cache.masks, list) and len(cache.masks) == N - 1):
            raise ValueError(f"cache holds {len(cache.caches)} layer caches and {len(cache.masks)} dropout masks; "
                             f"this stack of {N} layers needs {N} and {N - 1}: pass the cache its forward returned")
        dstate = self._per_layer("dstate", dstate)
        # Layers write their grads one after the other, the last layer first; when an earlier one refuses
        # (a NaN dh_T, another stack's cache) the later ones' grads are put back: all or nothing. The copy
        # is of the gradients only (a small fraction of what backward computes).
        with unchanged_on_error([layer.grads for layer in self.layers]):
            return self._backward(dout, cache, dstate)

    def _backward(self, dout, cache, dstate):
        dstate0 = [None] * len(self.layers)
        d = dout
        for k in reversed(range(len(self.layers))):
            layer, s = self.layers[k], dstate[k]
            if self._lstm_style[k]:
                dh_T, dc_T = (None, None) if s is None else s
                d, dh0, dc0 = layer.backward(d, cache.caches[k], dh_T, dc_T)
                dstate0[k] = (dh0, dc0)
            else:
                d, dh0 = layer.backward(d, cache.caches[k], s)
                dstate0[k] = dh0
            if k > 0 and cache.masks[k - 1] is not None:
                d = d * cache.masks[k - 1]  # through the dropout: d(h * m)/dh = m
        return d, dstate0

    # ------------------------------------------------------------------ weight exchange

    def to_torch(self):
        """Weights as a multi-layer PyTorch state dict (``nn.LSTM/GRU/RNN(num_layers=N)``).

        Each layer's own ``to_torch`` (keys ``*_l0``) with ``_l0`` renamed to
        ``_l{k}``. Only for stacks of the built-in layers.
        """
        out = {}
        for k, layer in enumerate(self.layers):
            if not hasattr(layer, "to_torch"):
                raise TypeError(f"layer {k} ({type(layer).__name__}) has no to_torch")
        with_bias = [k for k, layer in enumerate(self.layers) if getattr(layer, "torch_bias", True)]
        if 0 < len(with_bias) < len(self.layers):
            raise ValueError(f"layers {with_bias} have biases and the others were read without (bias=False): one "
                             "PyTorch module has biases in every layer or in none")
        for k, layer in enumerate(self.layers):
            for key, v in layer.to_torch().items():
                out[key[: -len("_l0")] + f"_l{k}"] = v
        return out

    @classmethod
    def from_torch(cls, state_dict, cell="lstm", *, dtype=None, dropout=0.0, rng=None):
        """Build a stack from a PyTorch ``nn.LSTM/GRU/RNN(num_layers=N)`` state dict.

        Parameters
        ----------
        state_dict : mapping of str to array
            ``weight_ih_l{k}``, ``weight_hh_l{k}`` and (unless ``bias=False``)
            ``bias_ih_l{k}``, ``bias_hh_l{k}`` for k = 0 .. N-1 (unidirectional,
            no projections). Convert tensors first:
            ``{k: v.detach().numpy() for k, v in m.state_dict().items()}``.
        cell : {"lstm", "gru", "rnn"}
            Which module the dict came from (a state dict cannot tell an
            nn.LSTM with 4H rows from an nn.RNN with hidden size 4H).
        dtype : float32 or float64, optional
            Defaults to the dtype of ``weight_ih_l0``.
        dropout : float in [0, 1)
            The stack's dropout (PyTorch keeps it in the module, not the dict).
        rng : numpy.random.Generator or int or None
            Source of the dropout masks.

        Returns
        -------
        Stack
            Layer k built by ``LSTM/GRU/RNN.from_torch`` from the ``_l{k}``
            entries renamed to ``_l0``; its outputs equal the module's
            (``batch_first=True``, evaluation mode) for the same inputs. Read
            without biases (``bias=False``), its ``to_torch`` writes none.

        Raises
        ------
        TypeError
            ``state_dict`` is not a mapping (a list, None); its floating arrays
            mix dtypes while ``dtype`` is None.
        ValueError
            A key that is not ``NAME_l{k}`` (``weight_ih_l01`` is not layer 1),
            a missing layer, biases in some layers only (or one bias of a pair),
            shapes that do not fit (named by key and layer).
        """
        check_torch_mapping(state_dict)  # a list or None is a TypeError, as for one layer
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}; got {cell!r}")
        per_layer = {}
        bad = []
        for key, v in state_dict.items():
            match = _TORCH_KEY.match(key) if isinstance(key, str) else None
            if match is None:
                bad.append(key)
            else:
                per_layer.setdefault(int(match.group(2)), {})[f"{match.group(1)}_l0"] = v
        if bad:
            raise ValueError(
                f"state_dict has keys {sorted(bad, key=str)} that a unidirectional nn.{cell.upper()} without projections "
                "does not have; expected weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}"
            )
        if not per_layer:
            raise ValueError("state_dict is empty; expected weight_ih_l0, weight_hh_l0, ...")
        n = max(per_layer) + 1
        missing = [k for k in range(n) if k not in per_layer]
        if missing:
            raise ValueError(f"state_dict has layers up to l{n - 1} but none for layer(s) {missing}")
        biased = [k for k in range(n) if {"bias_ih_l0", "bias_hh_l0"} & set(per_layer[k])]
        if 0 < len(biased) < n:
            unbiased = [k for k in range(n) if k not in biased]
            raise ValueError(f"state_dict has biases for layer(s) {biased} but none for layer(s) {unbiased} "
                             f"(bias_ih_l{unbiased[0]}, bias_hh_l{unbiased[0]} missing): a PyTorch module has them "
                             "in every layer (bias=True) or in none (bias=False)")
        one_float_dtype(state_dict, dtype)  # a float32 weight_ih_l0 must not make a float64 dict float32
        if dtype is None:
            dtype = np.asarray(state_dict["weight_ih_l0"]).dtype if "weight_ih_l0" in state_dict else None
        layers = []
        for k in range(n):
            try:
                layers.append(CELLS[cell].from_torch(per_layer[k], dtype=dtype))
            except ValueError as e:
                raise ValueError(f"layer {k} (keys *_l{k}): {e}".replace("_l0", f"_l{k}")) from None
        return cls(layers, dropout=dropout, rng=rng)
