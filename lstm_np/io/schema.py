"""Rules for a saved model's ``meta`` (``Int``, ``Float``, ``Str``, ``Bool``, ``Any``) and ``check_meta``."""

from __future__ import annotations

import math
import numbers

from .errors import ModelFileError

__all__ = ["Int", "Float", "Str", "Bool", "Any", "check_meta"]


class _Rule:
    optional = False

    def describe(self):
        raise NotImplementedError


class Int(_Rule):
    """An integer (not a bool) in [min, max].

    ``dim=(array, axis)`` (or a list of such pairs): the value must equal that
    array's size on that axis, and the array must exist.
    """

    def __init__(self, min=None, max=None, *, dim=None, optional=False):
        self.min, self.max, self.optional = min, max, optional
        self.dim = None if dim is None else ([dim] if isinstance(dim[0], str) else list(dim))

    def describe(self):
        lo = "" if self.min is None else f" >= {self.min}"
        hi = "" if self.max is None else f" <= {self.max}"
        return f"an integer{lo}{' and' if lo and hi else ''}{hi}"

    def check(self, v):
        return (isinstance(v, int) and not isinstance(v, bool) and (self.min is None or v >= self.min)
                and (self.max is None or v <= self.max))


class Float(_Rule):
    """A finite real number (JSON int or float) in [min, max]."""

    def __init__(self, min=None, max=None, *, optional=False):
        self.min, self.max, self.optional, self.dim = min, max, optional, None

    def describe(self):
        lo = "" if self.min is None else f" >= {self.min}"
        hi = "" if self.max is None else f" <= {self.max}"
        return f"a finite number{lo}{' and' if lo and hi else ''}{hi}"

    def check(self, v):
        return (isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                and (self.min is None or v >= self.min) and (self.max is None or v <= self.max))


class Str(_Rule):
    """A string, optionally one of ``choices``."""

    def __init__(self, choices=None, *, optional=False):
        self.choices, self.optional, self.dim = choices, optional, None

    def describe(self):
        return "a string" if self.choices is None else f"one of {list(self.choices)}"

    def check(self, v):
        return isinstance(v, str) and (self.choices is None or v in self.choices)


class Bool(_Rule):
    """true or false."""

    def __init__(self, *, optional=False):
        self.optional, self.dim = optional, None

    def describe(self):
        return "true or false"

    def check(self, v):
        return isinstance(v, bool)


class Any(_Rule):
    """Anything (checked elsewhere), optionally required to be a dict."""

    def __init__(self, dict_only=False, *, optional=False):
        self.dict_only, self.optional, self.dim = dict_only, optional, None

    def describe(self):
        return "an object" if self.dict_only else "any value"

    def check(self, v):
        return isinstance(v, dict) or not self.dict_only


def check_meta(meta, schema, *, arrays=None, where="meta"):
    """Check ``meta`` against ``schema``; raise ModelFileError naming the first field at fault.

    Parameters
    ----------
    meta : dict
        As ``load`` returns it.
    schema : dict
        Field name -> rule (``Int``, ``Float``, ``Str``, ``Bool``, ``Any``)
        or a nested dict for a nested object. Fields not in the schema are
        allowed. Example::

            {"model": {"num_items": io.Int(1, 10**7, dim=("item_emb.W", 0)),
                       "mean": io.Float(1, 5), "dtype": io.Str(["float32", "float64"])},
             "data": {"name": io.Str(["movielens", "synthetic"]), "seed": io.Int(0, optional=True)}}
    arrays : dict of name -> (shape, dtype), optional
        Array headers (``inspect(path).arrays``) for ``Int(dim=...)`` rules.
    where : str
        Named in the messages (the file).
    """
    stack = [(meta, schema, "meta")]
    while stack:
        obj, rules, label = stack.pop()
        if not isinstance(obj, dict):
            raise ModelFileError(f"{where}: {label} is {type(obj).__name__}; expected an object")
        for key, rule in rules.items():
            field = f"{label}.{key}"
            if key not in obj:
                if isinstance(rule, _Rule) and rule.optional:
                    continue
                raise ModelFileError(f"{where}: field {field} is missing")
            value = obj[key]
            if isinstance(rule, dict):
                stack.append((value, rule, field))
                continue
            if not rule.check(value):
                raise ModelFileError(f"{where}: field {field} is {value!r}; expected {rule.describe()}")
            for name, axis in (rule.dim or []) if arrays is not None else []:
                if name not in arrays:
                    raise ModelFileError(f"{where}: array {name!r} (whose size {field} gives) is missing")
                shape = arrays[name][0]
                if axis >= len(shape) or shape[axis] != value:
                    raise ModelFileError(f"{where}: field {field} is {value!r} but array {name!r} has shape "
                                         f"{tuple(shape)} (axis {axis} must equal it)")
    return meta
