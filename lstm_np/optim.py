"""Tiny optimizers and global-norm gradient clipping.

An optimizer holds a dict of named parameter arrays and updates them in
place from a dict of gradients with the same names::

    opt = Adam(model.params, lr=1e-3)
    ...
    clip_grad_norm(grads, max_norm=5.0)
    opt.step(grads)

``state_dict()`` returns the optimizer's state as plain arrays and numbers,
and ``load_state_dict`` restores it, so training can be saved and resumed.

A refused call changes nothing: ``step`` checks every gradient, computes
every new value, and checks that they are finite before it writes any
parameter or buffer (or counts the step); ``load_state_dict`` checks the
whole state before it writes any of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._checks import as_array, as_scalar

__all__ = ["SGD", "Adam", "clip_grad_norm", "global_norm"]


def _as_grads(grads, shapes, step=None):
    """Check ``grads`` against ``shapes`` (name -> shape): same names, real finite arrays."""
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of named arrays; got {type(grads).__name__}")
    missing = sorted(set(shapes) - set(grads))
    extra = sorted(set(grads) - set(shapes), key=str)
    if missing or extra:
        raise ValueError(f"grads do not match params: missing {missing}, unexpected {extra}")
    out = {}
    for k, shape in shapes.items():
        g = as_array(f"grads[{k!r}]", grads[k])
        if g.dtype.kind not in "iuf":
            raise TypeError(f"grads[{k!r}] has dtype {g.dtype}; expected real (floating) numbers")
        if g.shape != shape:
            raise ValueError(f"grads[{k!r}] has shape {g.shape}; expected {shape}")
        if not np.isfinite(g).all():
            raise FloatingPointError(f"grads[{k!r}] contains NaN or inf" + ("" if step is None else f" (step {step})"))
        out[k] = g
    return out


class _Optimizer:
    """Shared bookkeeping: the parameters, name checks, state save/restore."""

    _hyper: tuple = ()

    def __init__(self, params):
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict of named parameter arrays; got {type(params).__name__}")
        if not params:
            raise ValueError("params is empty; pass a dict of named parameter arrays")
        for k, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"parameter {k!r} must be a floating NumPy array; got {type(p).__name__}")
            if not p.flags.writeable:
                raise ValueError(f"parameter {k!r} is read-only; the optimizer updates it in place")
        self.params = params
        self.t = 0  # number of steps taken

    def _check_grads(self, grads):
        return _as_grads(grads, {k: p.shape for k, p in self.params.items()}, step=self.t + 1)

    def step(self, grads):
        """Update every parameter in place from ``grads`` (same names and shapes).

        Raises
        ------
        ValueError, TypeError
            Missing, extra, misshapen or non-real gradients.
        FloatingPointError
            A gradient holds NaN or inf, or the update would make a parameter
            or buffer non-finite. Nothing is changed then.
        """
        grads = self._check_grads(grads)
        t = self.t + 1
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below, with a clear message
            new = {k: self._update(k, p, grads[k], t) for k, p in self.params.items()}  # nothing written yet
        for k, values in new.items():
            for name, a in values.items():
                if not np.isfinite(a).all():
                    where = "parameter" if name == "param" else f"buffer {name!r} of"
                    raise FloatingPointError(
                        f"step {t}: the update would make {where} {k!r} NaN or inf (gradients too large "
                        f"for {a.dtype}?); nothing was changed")
        for k, values in new.items():
            for name, a in values.items():
                target = self.params[k] if name == "param" else getattr(self, name)[k]
                np.copyto(target, a, casting="unsafe")
        self.t = t

    def state_dict(self):
        """The optimizer's state: hyperparameters, step count and per-parameter buffers (copies)."""
        state = {"t": self.t, **{h: getattr(self, h) for h in self._hyper}}
        state["buffers"] = {name: {k: v.copy() for k, v in buf.items()} for name, buf in self._buffers().items()}
        return state

    def load_state_dict(self, state):
        """Restore a state from ``state_dict()``.

        Everything is checked first: the keys, ``t`` (an integer >= 0), the
        hyperparameters (as the constructor checks them), and every buffer
        (names, shapes, real finite numbers that fit the parameter dtype).
        Only then is anything written.

        Raises
        ------
        TypeError, ValueError
            Naming the key or buffer at fault; the optimizer is unchanged.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict from state_dict(); got {type(state).__name__}")
        expected = {"t", "buffers", *self._hyper}
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected, key=str)
        if missing or extra:
            raise ValueError(f"state has keys {sorted(state, key=str)}; expected {sorted(expected)} "
                             f"for {type(self).__name__} (missing {missing}, unexpected {extra})")
        t = state["t"]
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"state['t'] must be an integer >= 0 (steps taken); got {t!r}")
        hyper = self._check_hyper(**{h: state[h] for h in self._hyper})
        buffers = state["buffers"]
        if not isinstance(buffers, Mapping) or set(buffers) != set(self._buffers()):
            got = sorted(buffers, key=str) if isinstance(buffers, Mapping) else type(buffers).__name__
            raise ValueError(f"state['buffers'] has {got}; expected {sorted(self._buffers())}")
        new = {}
        for name, buf in self._buffers().items():
            saved = buffers[name]
            if not isinstance(saved, Mapping) or set(saved) != set(buf):
                got = sorted(saved, key=str) if isinstance(saved, Mapping) else type(saved).__name__
                raise ValueError(f"state buffer {name!r} has names {got}; expected {sorted(buf)}")
            for k, v in buf.items():
                label = f"state buffer {name}[{k!r}]"
                a = as_array(label, saved[k])
                if a.dtype.kind not in "iuf":
                    raise TypeError(f"{label} has dtype {a.dtype}; expected real numbers")
                if a.shape != v.shape:
                    raise ValueError(f"{label} has shape {a.shape}; expected {v.shape}")
                with np.errstate(over="ignore", invalid="ignore"):
                    a = a.astype(v.dtype)
                if not np.isfinite(a).all():
                    raise ValueError(f"{label} contains NaN or inf (or values too large for {v.dtype})")
                if name == "v" and isinstance(self, Adam) and (a < 0).any():
                    raise ValueError(f"{label} contains negative values; Adam's second moment is >= 0")
                new[name, k] = a
        for (name, k), a in new.items():  # everything checked: now write
            self._buffers()[name][k][...] = a
        self.t = int(t)
        for h, value in hyper.items():
            setattr(self, h, value)

    def _buffers(self):
        return {}


class SGD(_Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum.

    v <- momentum * v + g;   p <- p - lr * v

    Parameters
    ----------
    params : dict of ndarray
    lr : float > 0, finite
    momentum : float in [0, 1)
        0 gives plain SGD.
    """

    _hyper = ("lr", "momentum")

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params)
        for h, value in self._check_hyper(lr=lr, momentum=momentum).items():
            setattr(self, h, value)
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    @staticmethod
    def _check_hyper(lr, momentum):
        return {"lr": as_scalar("lr", lr, low=0, low_open=True),
                "momentum": as_scalar("momentum", momentum, low=0, high=1, high_open=True)}

    def _update(self, k, p, g, t):
        v = self.momentum * self.v[k] + g
        return {"v": v, "param": p - self.lr * v}

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
    lr : float > 0, finite
    beta1, beta2 : float in [0, 1)
    eps : float > 0, finite
    """

    _hyper = ("lr", "beta1", "beta2", "eps")

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params)
        for h, value in self._check_hyper(lr=lr, beta1=beta1, beta2=beta2, eps=eps).items():
            setattr(self, h, value)
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    @staticmethod
    def _check_hyper(lr, beta1, beta2, eps):
        return {"lr": as_scalar("lr", lr, low=0, low_open=True),
                "beta1": as_scalar("beta1", beta1, low=0, high=1, high_open=True),
                "beta2": as_scalar("beta2", beta2, low=0, high=1, high_open=True),
                "eps": as_scalar("eps", eps, low=0, low_open=True)}

    def _update(self, k, p, g, t):
        m = self.beta1 * self.m[k] + (1 - self.beta1) * g
        v = self.beta2 * self.v[k] + (1 - self.beta2) * (g * g)
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        return {"m": m, "v": v, "param": p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)}

    def _buffers(self):
        return {"m": self.m, "v": self.v}


def global_norm(grads):
    """sqrt of the sum of squares of every entry of every array in ``grads``.

    Computed without overflow: when the plain sum of squares overflows
    (float32 entries above about 1.8e19), every entry is first divided by the
    largest absolute entry s, and the norm is s * sqrt(sum((g / s)^2)).
    NaN or inf entries give NaN or inf.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of named arrays; got {type(grads).__name__}")
    arrays = []
    for k, g in grads.items():
        g = as_array(f"grads[{k!r}]", g)
        if g.dtype.kind not in "iuf":
            raise TypeError(f"grads[{k!r}] has dtype {g.dtype}; expected real numbers")
        arrays.append(g)
    with np.errstate(over="ignore", invalid="ignore"):
        total = sum(float(np.vdot(g, g)) for g in arrays)
    if math.isfinite(total):
        return math.sqrt(total)
    if any(np.isnan(g).any() for g in arrays):
        return math.nan
    s = max((float(np.max(np.abs(g))) for g in arrays if np.size(g)), default=0.0)
    if not math.isfinite(s):  # an inf entry: the norm really is inf
        return s
    total = sum(float(np.vdot(g / s, g / s)) for g in arrays)
    return s * math.sqrt(total)


def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    Keeps the direction of the whole gradient (every array is scaled by the
    same factor), unlike clipping each entry. Modifies ``grads`` in place.

    Parameters
    ----------
    grads : dict of ndarray
    max_norm : float > 0, finite

    Returns
    -------
    float
        The global norm before clipping (computed without overflow).

    Raises
    ------
    FloatingPointError
        A gradient contains NaN or inf; the gradients are left unchanged.
    """
    max_norm = as_scalar("max_norm", max_norm, low=0, low_open=True)
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of named arrays; got {type(grads).__name__}")
    for k, g in grads.items():
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(f"grads[{k!r}] must be a floating ndarray (clipped in place); got "
                            f"{type(g).__name__}{'' if not isinstance(g, np.ndarray) else ' ' + str(g.dtype)}")
        if not np.isfinite(g).all():
            raise FloatingPointError(f"grads[{k!r}] contains NaN or inf; cannot clip")
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm
