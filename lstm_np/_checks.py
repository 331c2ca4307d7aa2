"""Argument checks shared by the layers: one place for clear error messages.

Every public forward/backward validates its arrays here before computing
anything, so bad input raises before any state changes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_float_array", "as_mask", "as_ids", "check_sizes", "as_sequence", "as_state", "as_rng", "as_float_dtype",
]


def _expected(dims, sizes):
    labels = ", ".join(dims)
    values = ", ".join(d if s is None else str(s) for d, s in zip(dims, sizes))
    return f"({labels}) = ({values})"


def _check_shape(name, a, dims, sizes):
    if dims[:1] == ("...",):  # any leading axes, then the named trailing ones
        n = len(dims) - 1
        ok = a.ndim >= n and (n == 0 or _sizes_match(sizes[1:], a.shape[-n:]))
    else:
        ok = a.ndim == len(dims) and _sizes_match(sizes, a.shape)
    if not ok:
        raise ValueError(f"{name} has shape {a.shape}; expected {_expected(dims, sizes)}")


def _sizes_match(sizes, shape):
    return all(s is None or s == n for s, n in zip(sizes, shape))


def as_float_array(name, a, dims, sizes, dtype):
    """Return ``a`` as an ndarray after checking shape, dtype and finiteness.

    Parameters
    ----------
    name : str
        Argument name used in error messages.
    a : array_like
    dims : tuple of str
        Axis labels, e.g. ``("B", "T", "D")``; a leading ``"..."`` accepts
        any number of leading axes.
    sizes : tuple of (int or None)
        Required size per axis; ``None`` accepts any size.
    dtype : numpy dtype
        Required floating dtype (the layer's). No silent casting: a float32
        layer given float64 data says so instead of quietly converting.

    Raises
    ------
    TypeError
        Non-floating or mismatched dtype.
    ValueError
        Wrong rank or size, or NaN/inf values.
    """
    a = np.asarray(a)
    _check_shape(name, a, dims, sizes)
    if a.dtype != dtype:
        kind = "floating" if np.issubdtype(a.dtype, np.floating) else "non-floating"
        raise TypeError(
            f"{name} has dtype {a.dtype} ({kind}); expected {np.dtype(dtype)}, "
            f"the layer's dtype (convert with .astype(np.{np.dtype(dtype)}))"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return a


def as_mask(name, mask, dims, sizes, dtype):
    """Return a 0/1 mask as an array of ``dtype`` after checking its shape and values.

    Accepts bool, integer or floating masks whose entries are all 0 or 1.
    """
    m = np.asarray(mask)
    _check_shape(name, m, dims, sizes)
    if m.dtype != np.bool_:
        if not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
            raise TypeError(f"{name} has dtype {m.dtype}; expected bool or 0/1 numbers")
        bad = (m != 0) & (m != 1)
        if bad.any():
            raise ValueError(
                f"{name} must contain only 0 and 1; found {m[bad].flat[0].item()!r} "
                f"at index {tuple(int(k) for k in np.argwhere(bad)[0])}"
            )
    return m.astype(dtype)


def as_ids(name, ids, num):
    """Return integer ids as an int64 array after checking 0 <= id < num."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name} has dtype {ids.dtype}; expected integer ids")
    if ids.size and (ids.min() < 0 or ids.max() >= num):
        bad = ids[(ids < 0) | (ids >= num)].flat[0]
        raise ValueError(f"{name} contains id {int(bad)}; expected ids in [0, {num})")
    return ids.astype(np.int64, copy=False)


def check_sizes(**sizes):
    """Raise unless every keyword (e.g. ``input_size=3``) is a positive integer."""
    for name, v in sizes.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")


def as_sequence(x, mask, input_size, dtype):
    """Check a recurrent layer's input ``x`` (B, T, D) and optional ``mask`` (B, T).

    Returns
    -------
    x : ndarray
    mask : ndarray of ``dtype`` with 0/1 entries, or None
    """
    x = as_float_array("x", x, ("B", "T", "D"), (None, None, input_size), dtype)
    B, T, _ = x.shape
    if T == 0 or B == 0:
        raise ValueError(f"x has shape {x.shape}; expected at least one sequence and one time step")
    if mask is not None:
        mask = as_mask("mask", mask, ("B", "T"), (B, T), dtype)
    return x, mask


def as_state(name, a, batch, hidden, dtype, zeros_if_none=True):
    """Check a (B, H) state or state gradient; ``None`` gives zeros (or stays None)."""
    if a is None:
        return np.zeros((batch, hidden), dtype) if zeros_if_none else None
    return as_float_array(name, a, ("B", "H"), (batch, hidden), dtype)


def as_rng(rng):
    """A ``numpy.random.Generator`` from a Generator, an int seed, or None (fresh entropy)."""
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}")


def as_float_dtype(dtype):
    """``dtype`` as a NumPy dtype, which must be float32 or float64."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; got {dtype}")
    return dtype
