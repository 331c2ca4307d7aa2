"""Attention over a history, one query per row, forward and backward, written as the equations.

This is the reference: one line of code per equation, named as the symbols.
The next-item model with attention (``lstm_np.recommender.attentive``)
scores every position of a sequence at once with ``lstm_np.sequence.attention``,
which is tested equal to this step, run query by query.

Shapes: B rows (users), S steps of history, H the size of a key (the LSTM's
state), Dv the size of a value, A the size of the additive score's hidden layer.

    q    : (B, Hq)      the query: what we are looking for (the LSTM's last state)
    K    : (B, S, H)    the keys: one per history step (the LSTM's state after that step)
    V    : (B, S, Dv)   the values: what each step hands over when attended to (here the states again)
    mask : (B, S)       1 at a real history step, 0 at padding

Forward. First a score per step, by one of two rules::

    dot:       s_j = q . k_j / sqrt(H)                  (needs Hq = H)
    additive:  u_j = tanh(q Wq + k_j Wk)                Wq (Hq, A), Wk (H, A)
               s_j = u_j . v                            v (A,)

then the masked softmax over the real steps, and the weighted sum::

    s_j     = -inf where mask_j = 0                     a padded step can never be attended to
    alpha_j = exp(s_j - max s) / sum_k exp(s_k - max s) the weights: >= 0, summing to 1 over the real steps
    a       = sum_j alpha_j v_j                         (B, Dv) the summary of the history

The dot score is divided by sqrt(H) because a sum of H products of
unit-size numbers grows like sqrt(H): without it, a large H makes the
softmax nearly one-hot and its gradient nearly zero. Subtracting max s
changes no weight (it cancels between the numerator and the denominator) and
keeps exp from overflowing. A row with no real step gets alpha = 0 and a = 0.

Backward, given da (B, Dv), the gradient at a. Through the weighted sum::

    dV_j     = alpha_j da                               (B, S, Dv)
    dalpha_j = da . v_j                                 (B, S)

through the softmax (its Jacobian is diag(alpha) - alpha alpha^T)::

    ds_j     = alpha_j (dalpha_j - sum_k alpha_k dalpha_k)   exactly 0 at a padded step (alpha_j = 0)

and through the score::

    dot:       dq   = sum_j ds_j k_j / sqrt(H)          (B, H)
               dK_j = ds_j q / sqrt(H)                  (B, S, H)
    additive:  dv   = sum_{b,j} ds_j u_j                (A,)
               du_j = ds_j v                            (B, S, A)
               dp_j = du_j (1 - u_j^2)                  p_j = q Wq + k_j Wk, before the tanh
               dq   = (sum_j dp_j) Wq^T                 (B, A)(A, Hq) -> (B, Hq)
               dK_j = dp_j Wk^T                         (B, S, A)(A, H) -> (B, S, H)
               dWq  = q^T (sum_j dp_j)                  (Hq, B)(B, A) -> (Hq, A)
               dWk  = sum_{b,j} k_j^T dp_j              (H, A)

This module imports NumPy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCORES", "masked_softmax", "step_forward", "step_backward"]

#: The two score rules.
SCORES = ("dot", "additive")


def masked_softmax(s, mask):
    """Softmax of ``s`` along the last axis over the entries where ``mask`` is 1; exactly 0 elsewhere.

    A row with no entry left is all zeros (not NaN). ``s`` and ``mask``: any
    shape, the same one.
    """
    s = np.where(mask > 0, s, -np.inf)
    s_max = np.max(s, axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(s_max), s_max, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def step_forward(q, K, V, mask, params, score="dot"):
    """Attend from one query per row to that row's history.

    Parameters
    ----------
    q : (B, Hq) ndarray
    K : (B, S, H) ndarray
    V : (B, S, Dv) ndarray
    mask : (B, S) 0/1 ndarray
    params : dict
        ``{}`` for ``score="dot"``; ``{"Wq": (Hq, A), "Wk": (H, A), "v": (A,)}`` for ``"additive"``.
    score : "dot" or "additive"

    Returns
    -------
    a : (B, Dv) ndarray
        The weighted sum of the values.
    alpha : (B, S) ndarray
        The weights (0 at padded steps).
    cache : tuple
        What ``step_backward`` needs.
    """
    H = K.shape[-1]
    if score == "dot":
        u = None
        s = np.einsum("bh,bsh->bs", q, K) / np.sqrt(H)
    elif score == "additive":
        u = np.tanh((q @ params["Wq"])[:, None, :] + K @ params["Wk"])
        s = u @ params["v"]
    else:
        raise ValueError(f"score must be one of {SCORES}; got {score!r}")
    alpha = masked_softmax(s, mask)
    a = np.einsum("bs,bsd->bd", alpha, V)
    return a, alpha, (q, K, V, params, score, u, alpha)


def step_backward(da, cache):
    """Backward pass of ``step_forward``.

    Parameters
    ----------
    da : (B, Dv) ndarray
        Gradient of the loss at ``a``.
    cache : tuple
        From ``step_forward``.

    Returns
    -------
    dq : (B, Hq) ndarray
    dK : (B, S, H) ndarray
    dV : (B, S, Dv) ndarray
    grads : dict
        ``{}`` (dot) or ``{"Wq": (Hq, A), "Wk": (H, A), "v": (A,)}`` (additive).
    """
    q, K, V, params, score, u, alpha = cache
    H = K.shape[-1]

    # Through the weighted sum a = sum_j alpha_j v_j.
    dV = alpha[:, :, None] * da[:, None, :]
    dalpha = np.einsum("bd,bsd->bs", da, V)

    # Through the softmax.
    ds = alpha * (dalpha - np.sum(alpha * dalpha, axis=1, keepdims=True))

    # Through the score.
    if score == "dot":
        dq = np.einsum("bs,bsh->bh", ds, K) / np.sqrt(H)
        dK = ds[:, :, None] * q[:, None, :] / np.sqrt(H)
        return dq, dK, dV, {}
    dv = np.einsum("bs,bsa->a", ds, u)
    du = ds[:, :, None] * params["v"]
    dp = du * (1 - u**2)
    dq = dp.sum(axis=1) @ params["Wq"].T
    dK = dp @ params["Wk"].T
    grads = {"Wq": q.T @ dp.sum(axis=1), "Wk": np.einsum("bsh,bsa->ha", K, dp), "v": dv}
    return dq, dK, dV, grads
