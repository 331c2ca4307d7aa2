"""The LSTM layer's weight exchange with PyTorch and Keras: ``to_torch``, ``from_torch``, ``to_keras``, ``from_keras``.

A mixin of ``sequence.lstm.LSTM``. Our fused gate order is i, f, o, g
(``cells.lstm.GATES``); both frameworks use i, f, g, o, so every exchange
permutes the four gate blocks, and PyTorch's two bias vectors (which only
ever appear as a sum) become one.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array
from ..cells.lstm import GATES
from ._base import read_keras_weights, read_torch_state

__all__ = ["LSTMExchange"]


# Gate orders of the frameworks (both put the candidate g third).
_FRAMEWORK_GATES = ("i", "f", "g", "o")


def _reorder_gates(a, src, dst, axis):
    """Permute the four gate blocks of ``a`` along ``axis`` from order src to dst."""
    blocks = np.split(a, 4, axis=axis)
    return np.concatenate([blocks[src.index(k)] for k in dst], axis=axis)


class LSTMExchange:
    """``LSTM``'s weight exchange (its methods need the layer's ``params`` and ``RecurrentLayer``'s helpers)."""

    def to_torch(self):
        """Weights as a PyTorch ``nn.LSTM`` (single layer) state dict of NumPy arrays.

        PyTorch computes ``x W_ih^T + b_ih + h W_hh^T + b_hh`` with gate rows
        in the order i, f, g, o. So ``weight_ih_l0`` (4H, D) is ``Wx``
        transposed with its gate blocks reordered, likewise ``weight_hh_l0``
        (4H, H) from ``Wh``; ``bias_ih_l0`` (4H,) holds ``b`` and
        ``bias_hh_l0`` is zero, since only their sum matters.

        Load into PyTorch with
        ``m.load_state_dict({k: torch.from_numpy(v) for k, v in d.items()})``.
        """
        p, ours = self.params, GATES
        return self._torch_state({
            "weight_ih_l0": _reorder_gates(p["Wx"], ours, _FRAMEWORK_GATES, axis=1).T.copy(),
            "weight_hh_l0": _reorder_gates(p["Wh"], ours, _FRAMEWORK_GATES, axis=1).T.copy(),
            "bias_ih_l0": _reorder_gates(p["b"], ours, _FRAMEWORK_GATES, axis=0),
            "bias_hh_l0": np.zeros_like(p["b"]),
        })

    @classmethod
    def from_torch(cls, state_dict, dtype=None):
        """Build an LSTM from a PyTorch ``nn.LSTM`` state dict (single layer).

        Parameters
        ----------
        state_dict : mapping of str to array
            ``weight_ih_l0`` (4H, D), ``weight_hh_l0`` (4H, H) and, unless the
            module had ``bias=False``, ``bias_ih_l0`` and ``bias_hh_l0``
            (4H,), gate order i, f, g, o. Convert tensors first:
            ``{k: v.detach().numpy() for k, v in m.state_dict().items()}``.
        dtype : float32 or float64, optional
            Defaults to the dtype of ``weight_ih_l0``.

        Returns
        -------
        LSTM
            With ``Wx = W_ih^T``, ``Wh = W_hh^T``, ``b = b_ih + b_hh``
            (gate blocks reordered to i, f, o, g); its outputs equal the
            PyTorch module's (``batch_first=True``) for the same inputs.
        """
        W_ih, W_hh, b_ih, b_hh = read_torch_state(state_dict, 4, "nn.LSTM without projections", dtype)
        b = b_ih + b_hh
        ours = GATES
        layer = cls._from_params(
            Wx=_reorder_gates(W_ih.T, _FRAMEWORK_GATES, ours, axis=1),
            Wh=_reorder_gates(W_hh.T, _FRAMEWORK_GATES, ours, axis=1),
            b=_reorder_gates(b, _FRAMEWORK_GATES, ours, axis=0),
        )
        layer.torch_bias = "bias_ih_l0" in state_dict  # bias=False: to_torch writes no biases back
        return layer

    def to_keras(self):
        """Weights as a Keras ``LSTM`` layer's ``get_weights()`` list.

        Keras computes ``x kernel + h recurrent_kernel + bias`` with gate
        columns in the order i, f, c, o (c is our g), sigmoid as the
        recurrent activation and tanh as the activation (its defaults).

        Returns
        -------
        list of ndarray
            ``[kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)]``; load
            with ``layer.set_weights(...)``.
        """
        p, ours = self.params, GATES
        return [_reorder_gates(p[k], ours, _FRAMEWORK_GATES, axis=-1) for k in ("Wx", "Wh", "b")]

    @classmethod
    def from_keras(cls, weights, dtype=None):
        """Build an LSTM from a Keras ``LSTM`` layer's ``get_weights()`` list.

        Parameters
        ----------
        weights : sequence of array
            ``[kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)]``, gate
            order i, f, c, o; the bias may be left out (``use_bias=False``).
            The layer must use the default activations (tanh, sigmoid).
        dtype : float32 or float64, optional
            Defaults to the kernel's dtype.

        Returns
        -------
        LSTM
            With ``Wx = kernel``, ``Wh = recurrent_kernel``, ``b = bias``
            (gate blocks reordered to i, f, o, g).
        """
        kernel, rec, bias, dtype = read_keras_weights(weights, 4, dtype)
        H = rec.shape[0]
        bias = np.zeros(4 * H, dtype) if bias is None else as_float_array(
            "bias", bias.astype(dtype), ("4H",), (4 * H,), dtype)
        ours = GATES
        return cls._from_params(
            Wx=_reorder_gates(kernel, _FRAMEWORK_GATES, ours, axis=1),
            Wh=_reorder_gates(rec, _FRAMEWORK_GATES, ours, axis=1),
            b=_reorder_gates(bias, _FRAMEWORK_GATES, ours, axis=0),
        )
