"""Losses: each a plain function returning the loss and its gradient at the prediction."""

from __future__ import annotations

import numpy as np

from ._checks import as_array, as_float_array, as_mask, check_finite

__all__ = ["masked_mse"]


def masked_mse(pred, target, mask=None):
    """Mean squared error over the entries where ``mask`` is 1.

    loss = sum(m * (pred - target)^2) / sum(m)

    Parameters
    ----------
    pred, target : ndarray, same shape S and floating dtype
    mask : ndarray of 0/1, shape S, optional
        Entries with 0 are ignored (padding, held-out items); all ones if
        omitted. Must select at least one entry.

    Raises
    ------
    TypeError, ValueError
        Non-floating or mismatched dtypes, shapes, NaN/inf inputs, a mask that
        is not 0/1 or selects nothing.
    FloatingPointError
        The loss overflows (finite inputs whose squared error is inf).

    Returns
    -------
    loss : float
    dpred : ndarray, shape S
        Gradient of ``loss`` with respect to ``pred``: 2 m (pred - target) / sum(m).
    """
    pred = as_array("pred", pred)
    dt = pred.dtype
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"pred has dtype {dt}; expected a floating dtype")
    dims = tuple(f"S{k}" for k in range(pred.ndim))
    pred = as_float_array("pred", pred, dims, pred.shape, dt)
    target = as_float_array("target", target, dims, pred.shape, dt)
    m = np.ones_like(pred) if mask is None else as_mask("mask", mask, dims, pred.shape, dt)
    n = m.sum()
    if n == 0:
        raise ValueError("mask selects no entries; the mean is undefined")
    with np.errstate(over="ignore", invalid="ignore"):
        err = m * (pred - target)
        loss = np.sum(err * err) / n
        dpred = (2.0 / n) * err
    check_finite("masked_mse", loss=loss, dpred=dpred)
    return float(loss), dpred
