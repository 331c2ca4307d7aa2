"""Tiny optimizers and global-norm gradient clipping.

An optimizer holds a dict of named parameter arrays and updates them in
place from a dict of gradients with the same names::

    opt = Adam(model.params, lr=1e-3)
    ...
    clip_grad_norm(grads, max_norm=5.0)
    opt.step(grads)

``state_dict()`` returns the optimizer's state as plain arrays and numbers,
and ``load_state_dict`` restores it, so training can be saved and resumed.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SGD", "Adam", "clip_grad_norm", "global_norm"]


class _Optimizer:
    """Shared bookkeeping: the parameters, name checks, state save/restore."""

    _hyper: tuple = ()

    def __init__(self, params):
        if not params:
            raise ValueError("params is empty; pass a dict of named parameter arrays")
        for k, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"parameter {k!r} must be a floating NumPy array; got {type(p).__name__}")
        self.params = params
        self.t = 0  # number of steps taken

    def _check_grads(self, grads):
        missing = sorted(set(self.params) - set(grads))
        extra = sorted(set(grads) - set(self.params))
        if missing or extra:
            raise ValueError(f"grads do not match params: missing {missing}, unexpected {extra}")
        for k, p in self.params.items():
            g = grads[k]
            if g.shape != p.shape:
                raise ValueError(f"grads[{k!r}] has shape {g.shape}; expected {p.shape}")
            if not np.isfinite(g).all():
                raise FloatingPointError(f"grads[{k!r}] contains NaN or inf (step {self.t + 1})")

    def step(self, grads):
        """Update every parameter in place from ``grads`` (same names and shapes)."""
        self._check_grads(grads)
        self.t += 1
        for k, p in self.params.items():
            self._update(k, p, grads[k])

    def state_dict(self):
        """The optimizer's state: hyperparameters, step count and per-parameter buffers (copies)."""
        state = {"t": self.t, **{h: getattr(self, h) for h in self._hyper}}
        state["buffers"] = {name: {k: v.copy() for k, v in buf.items()} for name, buf in self._buffers().items()}
        return state

    def load_state_dict(self, state):
        """Restore a state from ``state_dict()``; checks names and shapes first."""
        buffers = state["buffers"]
        for name, buf in self._buffers().items():
            saved = buffers.get(name, {})
            if set(saved) != set(buf):
                raise ValueError(f"state buffer {name!r} has names {sorted(saved)}; expected {sorted(buf)}")
            for k, v in buf.items():
                if np.shape(saved[k]) != v.shape:
                    raise ValueError(f"state buffer {name}[{k!r}] has shape {np.shape(saved[k])}; expected {v.shape}")
        for name, buf in self._buffers().items():
            for k, v in buf.items():
                v[...] = buffers[name][k]
        self.t = int(state["t"])
        for h in self._hyper:
            setattr(self, h, state[h])

    def _buffers(self):
        return {}


class SGD(_Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum.

    v <- momentum * v + g;   p <- p - lr * v

    Parameters
    ----------
    params : dict of ndarray
    lr : float
    momentum : float in [0, 1)
        0 gives plain SGD.
    """

    _hyper = ("lr", "momentum")

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params)
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"need lr > 0 and 0 <= momentum < 1; got lr={lr}, momentum={momentum}")
        self.lr, self.momentum = lr, momentum
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def _update(self, k, p, g):
        v = self.v[k]
        v *= self.momentum
        v += g
        p -= self.lr * v

    def _buffers(self):
        return {"v": self.v}


class Adam(_Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction.

    m <- b1 m + (1 - b1) g;      v <- b2 v + (1 - b2) g^2
    m_hat = m / (1 - b1^t);      v_hat = v / (1 - b2^t)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    params : dict of ndarray
    lr : float
    beta1, beta2 : float in [0, 1)
    eps : float
    """

    _hyper = ("lr", "beta1", "beta2", "eps")

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params)
        if lr <= 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1) or eps <= 0:
            raise ValueError(f"need lr > 0, 0 <= betas < 1, eps > 0; got lr={lr}, betas=({beta1}, {beta2}), eps={eps}")
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def _update(self, k, p, g):
        m, v = self.m[k], self.v[k]
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        m_hat = m / (1 - self.beta1**self.t)
        v_hat = v / (1 - self.beta2**self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def _buffers(self):
        return {"m": self.m, "v": self.v}


def global_norm(grads):
    """sqrt of the sum of squares of every entry of every array in ``grads``."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    Keeps the direction of the whole gradient (every array is scaled by the
    same factor), unlike clipping each entry. Modifies ``grads`` in place.

    Parameters
    ----------
    grads : dict of ndarray
    max_norm : float > 0

    Returns
    -------
    float
        The global norm before clipping.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0; got {max_norm}")
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm
