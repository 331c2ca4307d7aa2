"""Argument checks shared by the layers: one place for clear error messages.

Every public forward/backward validates its arrays here before computing
anything, so bad input raises before any state changes. One function per
kind of input:

* ``as_array`` -- anything array-like to an ndarray, refusing ragged nested
  lists, strings, objects and complex numbers with a message naming it;
* ``as_float_array`` / ``as_mask`` / ``as_ids`` / ``as_state`` /
  ``as_sequence`` -- the layers' inputs, with shapes and dtypes;
* ``as_real_array`` -- numbers from outside (PyTorch/Keras weights) that
  may be converted to the layer's dtype, but never lose an imaginary part;
* ``check_sizes`` / ``as_scalar`` -- sizes and hyperparameters;
* ``check_cache`` -- a cache handed back to ``backward`` must be the one
  this layer's ``forward`` made, for these parameters and this dtype;
* ``check_finite`` -- a result (a gradient, a loss) that overflowed is an
  error before it is stored anywhere;
* ``as_int`` / ``check_fits_memory`` -- counts, and sizes whose arrays must
  fit in this machine's memory (checked before allocating, so an absurd
  size is a ValueError, never a MemoryError);
* ``unchanged_on_error`` -- the one rule behind "a refused call changes
  nothing" where validating everything first is not enough (a generator
  that a call advances, layers that write their gradients one after the
  other, a fit that diverges midway): the block's state is snapshotted and
  put back, byte for byte, if it raises.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import warnings

import numpy as np

__all__ = [
    "as_array", "as_float_array", "as_real_array", "as_mask", "as_ids", "check_sizes", "as_scalar",
    "as_sequence", "as_state", "as_rng", "as_float_dtype", "check_cache", "check_finite", "as_int",
    "check_fits_memory", "unchanged_on_error", "check_distinct",
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


def as_array(name, a):
    """``a`` as an ndarray of numbers (bool, integer, floating or complex).

    Raises
    ------
    TypeError
        ``None``, strings, bytes, objects, or anything NumPy cannot turn into
        a numeric array.
    ValueError
        A ragged nested list (rows of different lengths).
    """
    if a is None:
        raise TypeError(f"{name} is None; expected an array of numbers")
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{name} is a {type(a).__name__}; expected an array of numbers")
    try:
        arr = np.asarray(a)
    except ValueError as e:  # NumPy >= 1.24: "inhomogeneous shape"
        raise ValueError(f"{name} is a ragged nested sequence (rows of different lengths); "
                         f"expected a rectangular array ({e})") from None
    except TypeError as e:
        raise TypeError(f"{name} cannot be read as an array of numbers ({e})") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected an array of numbers")
    return arr


def all_finite(a):
    """True when every entry of the float array ``a`` is finite (no NaN, no inf).

    Fast path, since the layers call this on every input and result: the sum
    of squares (``np.vdot``, one BLAS call, no temporary) is finite when every
    entry is, unless it overflows (entries above about 1e19 in float32), and
    only then are the entries themselves looked at. NaN and inf give a NaN or
    inf sum, so they always reach the exact check.
    """
    return a.size == 0 or math.isfinite(np.vdot(a, a).real) or bool(np.isfinite(a).all())


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
        Non-floating or mismatched dtype, or not an array of numbers.
    ValueError
        Wrong rank or size, a ragged nested list, or NaN/inf values.
    """
    a = as_array(name, a)
    _check_shape(name, a, dims, sizes)
    if a.dtype != dtype:
        kind = "floating" if np.issubdtype(a.dtype, np.floating) else "non-floating"
        raise TypeError(
            f"{name} has dtype {a.dtype} ({kind}); expected {np.dtype(dtype)}, "
            f"the layer's dtype (convert with .astype(np.{np.dtype(dtype)}))"
        )
    if not all_finite(a):
        raise ValueError(f"{name} contains NaN or inf values")
    return a


def as_real_array(name, a, dtype):
    """Numbers from outside (e.g. another framework's weights) converted to ``dtype``.

    Integer and floating arrays are converted; complex, bool, string and
    object arrays are refused (converting them would drop the imaginary part
    or invent numbers), and so are values that overflow ``dtype``.
    """
    a = as_array(name, a)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} has dtype {a.dtype}; expected real (integer or floating) numbers")
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(dtype)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or inf values (or values too large for {np.dtype(dtype)})")
    return out


def as_mask(name, mask, dims, sizes, dtype):
    """Return a 0/1 mask as an array of ``dtype`` after checking its shape and values.

    Accepts bool, integer or floating masks whose entries are all 0 or 1.
    """
    m = as_array(name, mask)
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
    ids = as_array(name, ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name} has dtype {ids.dtype}; expected integer ids")
    if ids.size and (ids.min() < 0 or ids.max() >= num):
        bad = ids[(ids < 0) | (ids >= num)].flat[0]
        raise ValueError(f"{name} contains id {int(bad)}; expected ids in [0, {num})")
    return ids.astype(np.int64, copy=False)


def as_int(name, v, low=None, high=None):
    """``v`` as a Python int in [low, high] (either bound may be None).

    Raises
    ------
    TypeError
        Not a number at all: a str (``"3"`` is not parsed), None, a bool, a
        complex number, an array.
    ValueError
        A number that is not a whole int (``2.5``, and ``3.0`` too: say
        ``3``), NaN, inf, or out of range.
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be an integer; got {type(v).__name__} {v!r}")
    if not isinstance(v, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number given as an int; got {v!r}")
    if (low is not None and v < low) or (high is not None and v > high):
        if low is not None and high is not None:
            rule = f"in [{low}, {high:,}]"
        else:
            rule = f">= {low}" if low is not None else f"<= {high:,}"
        raise ValueError(f"{name} must be an integer {rule}; got {v}")
    return int(v)


def check_sizes(**sizes):
    """Raise unless every keyword (e.g. ``input_size=3``) is a positive integer.

    ``"3"`` or None are a TypeError (not a number); ``2.7`` is refused rather
    than truncated, and a whole float such as ``3.0`` too (say what you mean:
    an int), with ValueError, as are 0, negative sizes and ``True``.
    """
    for name, v in sizes.items():
        if not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a positive integer; got {type(v).__name__} {v!r}")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:  # True: not a size
            raise ValueError(f"{name} must be a positive integer; got {v!r}")


def _memory_limit():
    """Bytes of physical memory of this machine (1 TiB when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 2**40


def check_fits_memory(what, numbers_needed, dtype=np.float64, *, fraction=0.5):
    """Raise ValueError unless ``numbers_needed`` numbers of ``dtype`` fit in ``fraction`` of the memory.

    Called with the sizes of what a constructor is about to allocate, before
    it allocates: ``--hidden-size 1000000`` (an LSTM's 4 * 10**12 weights)
    is a ValueError naming the setting and the bytes, not a MemoryError.
    """
    need = int(numbers_needed) * np.dtype(dtype).itemsize
    limit = int(_memory_limit() * fraction)
    if need > limit:
        raise ValueError(f"{what} needs {_bytes(need)} of memory for its arrays alone, more than this machine "
                         f"can give ({_bytes(limit)}, half of its {_bytes(_memory_limit())}); choose smaller sizes")


def _bytes(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "bytes" else f"{n} bytes"
        n /= 1024


def check_distinct(name, objects):
    """Raise ValueError if one object appears twice in ``objects`` (``Stack([layer, layer])``)."""
    seen = {}
    for k, o in enumerate(objects):
        if id(o) in seen:
            raise ValueError(f"{name}[{seen[id(o)]}] and {name}[{k}] are the same object; each entry must be "
                             "its own (a layer used twice would have its gradients overwritten by its second use: "
                             "build a new one, or copy it)")
        seen[id(o)] = k


def as_scalar(name, v, *, low=None, high=None, low_open=False, high_open=False):
    """A real, finite number in the given range, as a Python float.

    ``low_open=True`` excludes ``low`` (``lr > 0``), ``high_open=True``
    excludes ``high`` (``momentum < 1``).

    Raises
    ------
    TypeError
        Not a real number (a string, a bool, a complex number, an array).
    ValueError
        NaN, inf, or outside the range.
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(v).__name__} {v!r}")
    v = float(v)
    if low is not None and high is not None:
        rule = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        rule = f"{'>' if low_open else '>='} {low}"
    elif high is not None:
        rule = f"{'<' if high_open else '<='} {high}"
    else:
        rule = "finite"
    bad = (not math.isfinite(v) or low is not None and (v < low or (low_open and v == low))
           or high is not None and (v > high or (high_open and v == high)))
    if bad:
        raise ValueError(f"{name} must be {rule}{' and finite' if rule != 'finite' else ''}; got {v}")
    return v


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
        if rng is not None and rng < 0:
            raise ValueError(f"rng: a seed must be a non-negative integer; got {rng}")
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}")


def as_float_dtype(dtype):
    """``dtype`` as a NumPy dtype, which must be float32 or float64."""
    try:
        with warnings.catch_warnings():  # np.dtype("a") warns (deprecated alias) before we refuse it anyway
            warnings.simplefilter("ignore", DeprecationWarning)
            dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype must be float32 or float64; got {dtype!r}") from e
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; got {dtype}")
    return dtype


def check_cache(cache, cache_type, params, shapes, dtype, layer):
    """Raise unless ``cache`` is what this layer's ``forward`` returned; return its (T, B).

    Parameters
    ----------
    cache : object
        What the caller passed to ``backward``.
    cache_type : type
        The NamedTuple class ``forward`` returns (e.g. ``LSTMCache``); it has
        fields ``act`` (T, B, kH), ``mask`` ((T, B, 1) or None), ``Wx``, ``Wh``.
    params : dict of ndarray
        The layer's parameters; the cache must hold these very arrays as
        ``Wx`` and ``Wh`` (a cache of another layer of the same sizes would
        otherwise silently give that layer's gradients).
    shapes : callable
        ``shapes(T, B)`` -> dict of field name -> the exact shape that field
        must have, e.g. ``{"x": (T * B, D), "act": (T, B, 4 * H), ...}``.
    dtype : numpy dtype
        The layer's; every cache array must have it.
    layer : str
        Named in the messages (``"LSTM"``).

    Returns
    -------
    T, B : int
    """
    name = cache_type.__name__
    if not isinstance(cache, cache_type):
        raise TypeError(f"cache must be the {name} returned by forward; got {type(cache).__name__}")
    if cache.Wx is not params["Wx"] or cache.Wh is not params["Wh"]:
        raise ValueError(
            f"cache was made by another {layer} (or before this layer's parameters were replaced); "
            "backward needs the cache of this layer's own forward"
        )
    act = cache.act
    if isinstance(act, np.ndarray) and act.ndim == 3:
        T, B = act.shape[:2]
        expected = shapes(T, B)
        if cache.mask is not None:
            expected["mask"] = (T, B, 1)
    else:
        T = B = None
        expected = {"act": ("T", "B", "kH")}
    for field, shape in expected.items():  # one pass, exact comparisons: backward calls this every time
        a = getattr(cache, field)
        if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.shape == shape):
            got = f"{a.dtype}{a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
            want = "(" + ", ".join(str(s) for s in shape) + ")"
            raise ValueError(f"cache.{field} is {got}; this {layer} ({np.dtype(dtype)}) needs "
                             f"a {np.dtype(dtype)} array of shape {want}: pass the cache its forward returned")
    return T, B


def check_finite(what, **arrays):
    """Raise FloatingPointError if any array holds NaN or inf (a result that overflowed).

    Called on results (gradients, losses) before they are stored, so an
    overflow changes nothing. Fast path: the sum of an array is finite when
    every entry is (one reduction per array, since backward calls this every
    time); only when a sum is not finite (a NaN or inf, or finite entries so
    large that their sum overflows) are the entries themselves checked.
    """
    bad = next((name for name, a in arrays.items() if not all_finite(a)), None)
    if bad is not None:
        raise FloatingPointError(
            f"{what}: {bad} is not finite (NaN or inf); the computation overflowed "
            "(inputs or upstream gradients too large for the dtype; scale the loss down or use float64)"
        )


# --------------------------------------------------------------------------- refused calls change nothing

_NOT_STATE = (str, bytes, int, float, complex, bool, type(None), np.generic, np.dtype)


def _snapshot(obj, memo, out):
    """Append to ``out`` what is needed to put ``obj`` (and all it holds) back; shared objects once."""
    if isinstance(obj, _NOT_STATE) or id(obj) in memo:
        return
    memo.add(id(obj))
    if isinstance(obj, np.random.Generator):
        out.append(("rng", obj, obj.bit_generator.state))
    elif isinstance(obj, np.random.BitGenerator):
        out.append(("bitgen", obj, obj.state))
    elif isinstance(obj, np.ndarray):
        if obj.flags.writeable:
            out.append(("array", obj, obj.copy()))
    elif isinstance(obj, dict):
        out.append(("dict", obj, dict(obj)))
        for v in list(obj.values()):
            _snapshot(v, memo, out)
    elif isinstance(obj, list):
        out.append(("list", obj, list(obj)))
        for v in obj:
            _snapshot(v, memo, out)
    elif isinstance(obj, (tuple, set, frozenset)):
        for v in obj:
            _snapshot(v, memo, out)
    elif hasattr(obj, "__dict__") and not callable(obj) and not isinstance(obj, type):
        attrs = vars(obj)
        out.append(("attrs", obj, dict(attrs)))
        for v in list(attrs.values()):
            _snapshot(v, memo, out)


def _restore(saved):
    for kind, obj, value in saved:  # rebind first (an attribute or entry replaced by a new object) ...
        if kind == "dict":
            obj.clear()
            obj.update(value)
        elif kind == "list":
            obj[:] = value
        elif kind == "attrs":
            attrs = vars(obj)  # object.__dict__ directly: frozen dataclasses too
            attrs.clear()
            attrs.update(value)
    for kind, obj, value in saved:  # ... then the contents of the original arrays and generators
        if kind == "array":
            if obj.shape == value.shape and obj.dtype == value.dtype:
                np.copyto(obj, value)
        elif kind == "rng":
            obj.bit_generator.state = value
        elif kind == "bitgen":
            obj.state = value


@contextlib.contextmanager
def unchanged_on_error(*things):
    """Run the block; if it raises (anything, KeyboardInterrupt too), put ``things`` back, then re-raise.

    ``things`` may be numpy Generators (their state), arrays (their bytes,
    put back in place, so every reference to them sees the old values),
    dicts and lists (their entries), and objects (their attributes), each
    followed into everything it holds. Validation first is still the rule;
    this is for what cannot be validated first: which generator draws a
    call makes before a later argument is found bad, a layer of a stack
    that refuses after the layers above it wrote their gradients, a fit
    that diverges at epoch 4.

    The snapshot copies every array it reaches, so the hot paths pass only
    what the block can change (a stack's generator, its layers' ``grads``),
    not whole models.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> try:
    ...     with unchanged_on_error(rng):
    ...         _ = rng.random(3)
    ...         raise ValueError("bad state")
    ... except ValueError:
    ...     pass
    >>> bool(rng.random() == np.random.default_rng(0).random())
    True
    """
    saved, memo = [], set()
    for t in things:
        _snapshot(t, memo, saved)
    try:
        yield
    except BaseException:
        _restore(saved)
        raise
