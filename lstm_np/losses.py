"""Losses: each a plain function returning the loss and its gradient at the prediction."""

from __future__ import annotations

import numpy as np

from ._checks import as_array, as_float_array, as_ids, as_mask, check_finite

__all__ = ["masked_mse", "softmax_cross_entropy"]


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


def softmax_cross_entropy(logits, targets, mask=None):
    """Mean cross-entropy of a softmax over the last axis, over the positions where ``mask`` is 1.

    For each position s with logits z (V,) and target class y::

        p = softmax(z) = exp(z - max z) / sum(exp(z - max z))
        loss_s = -log p[y] = logsumexp(z) - z[y]

    and ``loss = sum_s m_s loss_s / sum_s m_s`` (natural log, nats; divide
    by ln 2 for bits). Subtracting max z before exponentiating changes
    nothing mathematically and keeps exp from overflowing, so huge logits
    are fine.

    Parameters
    ----------
    logits : (*S, V) ndarray, floating
    targets : (*S) ndarray of int
        Class ids in [0, V).
    mask : (*S) ndarray of 0/1, optional
        Positions with 0 are ignored (padding); all ones if omitted. Must
        select at least one position.

    Raises
    ------
    TypeError, ValueError
        As ``masked_mse``; targets out of [0, V) or of another shape.
    FloatingPointError
        The loss overflows: finite logits too far apart for the dtype.

    Returns
    -------
    loss : float
    dlogits : (*S, V) ndarray
        Gradient of ``loss``: m_s (p - onehot(y)) / sum(m).
    """
    logits = as_array("logits", logits)
    dt = logits.dtype
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"logits has dtype {dt}; expected a floating dtype")
    if logits.ndim < 1:
        raise ValueError(f"logits has shape {logits.shape}; expected (*S, V)")
    S, V = logits.shape[:-1], logits.shape[-1]
    dims = tuple(f"S{k}" for k in range(len(S)))
    logits = as_float_array("logits", logits, dims + ("V",), logits.shape, dt)
    targets = as_array("targets", targets)
    if targets.shape != S:
        raise ValueError(f"targets has shape {targets.shape}; expected {S}, the logits' shape without the last axis")
    targets = as_ids("targets", targets, V)
    m = np.ones(S, dt) if mask is None else as_mask("mask", mask, dims, S, dt)
    n = m.sum()
    if n == 0:
        raise ValueError("mask selects no positions; the mean is undefined")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is caught just below, by name
        shifted = logits - logits.max(axis=-1, keepdims=True)         # z - max z <= 0: exp cannot overflow
        log_norm = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # logsumexp(z) - max z
        log_p = shifted - log_norm                                     # log softmax(z)
        picked = np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]  # log p[y] per position
        loss = -(m * picked).sum() / n
    # Finite logits whose spread exceeds the dtype (3e38 and -3e38 in float32: z - max z = -inf) give an
    # infinite loss: an overflow, refused like every other, never returned as inf.
    check_finite("softmax_cross_entropy", loss=loss)
    loss = float(loss)
    dlogits = np.exp(log_p)                                        # p
    np.put_along_axis(dlogits, targets[..., None], np.take_along_axis(dlogits, targets[..., None], -1) - 1, -1)
    dlogits *= (m / n)[..., None]
    return loss, dlogits
