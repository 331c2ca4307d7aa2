"""The classes of mistakes, generated: each class turns a short table into ``Mistake`` rows.

A ``Mistake`` replaces one or more lines of a reference step
(``equations.STEPS``) and says in words what went wrong. The classes:

==========================  ===================================================================
``slice_orders``            the gate blocks read from z (a, u) in another order: every permutation
``nonlinearities``          a gate or candidate through another nonlinearity, or through none
``derivatives``             a derivative of the wrong function, at the wrong point, or missing
``transposes``              a weight matrix reshaped or used block by block instead of transposed
``reductions``              a bias gradient reduced over the wrong axis, averaged, or not reduced
``concat_orders``           the gradient blocks concatenated in another order: every permutation
==========================  ===================================================================

The one-off mistakes of each step (a dropped term, a variable used for another)
are rows of the tables in ``catalogue.py``; adding one means adding a row there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ..cells.lstm import sigmoid

__all__ = ["Mistake", "slice_orders", "nonlinearities", "derivatives", "transposes", "reductions", "concat_orders",
           "ACTIVATIONS"]  # fmt: skip


@dataclass(frozen=True)
class Mistake:
    """One mistake: the lines it replaces (name -> function of an ``Env``) and its words."""

    key: str
    lines: dict = field(hash=False, compare=False)
    words: str = ""
    kind: str = "one-off"  # the class it comes from


def row(key, line, fn, words):
    """A one-off mistake that replaces a single line."""
    return Mistake(key, {line: fn}, words)


_SHOWN = {"tanh_c": "tanh(c)"}  # stored names shown as what they hold
ACTIVATIONS = {"sigma": sigmoid, "tanh": np.tanh, "none": lambda v: v}
_RANGE = {"sigma": "in (0, 1)", "tanh": "in (-1, 1)"}


def _order(names):
    return ", ".join(names)


def slice_orders(gates, sources, width, equations, note=None):
    """Every other order of reading the gate blocks of ``sources`` (e.g. ``("z",)``; GRU: ``("a", "u")``).

    ``width``: the fused axis ("4H"); ``equations``: how each block is read, in words;
    ``note``: ``{order: words}`` for orders with a name (PyTorch's).
    """
    out = []
    for perm in itertools.permutations(gates):
        if perm == tuple(gates):
            continue
        lines = {}
        for src in sources:
            for gate in gates:
                k = perm.index(gate)
                if k != gates.index(gate):
                    lines[f"{src}_{gate}"] = (lambda s, k: lambda e: getattr(e, s)[:, k * e.H : (k + 1) * e.H])(src, k)
        moved = [g for g in gates if perm.index(g) != gates.index(g)]
        what = " and ".join(moved) if len(moved) == 2 else ", ".join(moved)
        extra = f" ({note[perm]})" if note and perm in note else ""
        out.append(Mistake(
            f"order_{''.join(perm)}", lines,
            f"{what} were read from the wrong blocks of {' and '.join(sources)}: in the order {_order(perm)}{extra}; "
            f"here the order along the {width} axis is {_order(gates)}: {equations}",
            "slice order",
        ))  # fmt: skip
    return out


def nonlinearities(rows):
    """Each row ``(line, label, what, pre, right, equation, why)``: ``line`` = right(pre(e)); try every other one.

    ``label`` names the part in words, ``what`` the value that goes through the function
    (the label itself for a gate; "c" for h's tanh); ``right`` is "sigma" or "tanh".
    """
    out = []
    for line, label, what, pre, right, equation, why in rows:
        for alt, act in ACTIVATIONS.items():
            if alt == right:
                continue
            fn = (lambda pre, act: lambda e: act(pre(e)))(pre, act)
            if alt == "none":
                missing = f"its {right}" if what == label else f"the {right} on {what}"
                words = f"{label} is missing {missing}: {equation}"
            elif what == label:
                words = f"{label} went through {alt}; {why}: {equation}, {_RANGE[right]}"
            else:
                words = f"{label}: {what} went through {alt} where {right} belongs: {equation}"
            out.append(Mistake(f"{line}_{alt}", {line: fn}, words, "nonlinearity"))
    return out


def derivatives(rows, all_gates=False):
    """Each row ``(line, part, stored, right)``: the line is the derivative right'(.) from the stored output.

    Tried: the other function's derivative, the right one at the wrong point (the stored
    output taken for the input), none at all. ``all_gates``: also the same slip made in
    every row with ``right == "sigma"`` at once.
    """
    out, by_variant = [], {}
    for line, part, name, right in rows:
        st = (lambda name: lambda e: getattr(e, name))(name)
        s = _SHOWN.get(name, name)
        if right == "sigma":
            good = f"{s} * (1 - {s})"
            variants = {
                "tanh_deriv": (lambda st: lambda e: 1 - st(e) ** 2, f"{part} used the tanh derivative 1 - {s}^2; "
                               f"{s} is a sigmoid and needs {good}"),
                "deriv_of_output": (lambda st: lambda e: sigmoid(st(e)) * (1 - sigmoid(st(e))),
                                    f"{part}: the sigmoid derivative was taken at the stored {s} as if it were the "
                                    f"gate's input: sigma({s}) * (1 - sigma({s})); with the stored {s} it is {good}"),
                "no_deriv": (lambda st: lambda e: np.ones_like(st(e)),
                             f"{part} is missing the sigmoid's derivative {good}"),
            }  # fmt: skip
        else:
            good = f"1 - {s}^2"
            variants = {
                "sigmoid_deriv": (lambda st: lambda e: st(e) * (1 - st(e)), f"{part}: the sigmoid derivative "
                                  f"{s} * (1 - {s}) was applied to {s}; {s} is a tanh and needs {good}"),
                "deriv_of_output": (lambda st: lambda e: 1 - np.tanh(st(e)) ** 2,
                                    f"{part}: 1 - tanh({s})^2 applies tanh to {s} a second time; with the stored {s} "
                                    f"the derivative is {good}"),
                "no_deriv": (lambda st: lambda e: np.ones_like(st(e)),
                             f"{part} is missing the tanh's derivative {good}"),
            }  # fmt: skip
        for variant, (make, words) in variants.items():
            fn = make(st)
            out.append(Mistake(f"{line}_{variant}", {line: fn}, words, "derivative"))
            if right == "sigma":
                by_variant.setdefault(variant, []).append((line, fn, s, words))
    if all_gates:  # the same slip in every sigmoid gate (one helper written once)
        for variant, rows_ in by_variant.items():
            if len(rows_) < 2:
                continue
            others = ", ".join(s for _, _, s, _ in rows_[1:])
            out.append(Mistake(f"all_gates_{variant}", {line: fn for line, fn, _, _ in rows_},
                               f"{rows_[0][3]} (the same slip for {others})", "derivative"))  # fmt: skip
    return out


def transposes(rows):
    """Each row ``(line, left, W, n, extra, equation)``: ``line = left @ W.T (+ extra)``, W of shape (k, n H).

    Tried: ``W.reshape(n H, k)`` for ``W.T``, and each gate's block ``W_j`` used untransposed
    (``sum_j left_j @ W_j``, which runs only where W_j is square).
    """
    out = []
    for line, left, W, n, extra, equation in rows:
        add = (lambda extra: (lambda e: 0) if extra is None else (lambda e: getattr(e, extra)))(extra)

        def reshaped(e, left=left, W=W, n=n, add=add):
            w = getattr(e, W)
            return getattr(e, left) @ w.reshape(n * e.H, w.shape[0]) + add(e)

        def blocks(e, left=left, W=W, n=n, add=add):
            d, w, H = getattr(e, left), getattr(e, W), e.H
            return sum(d[:, j * H : (j + 1) * H] @ w[:, j * H : (j + 1) * H] for j in range(n)) + add(e)

        out.append(Mistake(f"{line}_{W}_reshape", {line: reshaped},
                           f"{line}: {W} was reshaped to ({n}H, {'H' if W == 'Wh' else 'D'}), not transposed "
                           f"(reshape keeps the memory order): {equation}", "transpose"))  # fmt: skip
        out.append(Mistake(f"{line}_{W}_blocks", {line: blocks},
                           f"{line}: looks like {W} was not transposed: each gate's block {W}_k = {W}[:, kH:(k+1)H] "
                           f"is square here, so {left}_k @ {W}_k runs but is wrong; {equation}", "transpose"))  # fmt: skip
    return out


def reductions(rows):
    """Each row ``(line, src, equation)``: ``line = src.sum(axis=0)``; tried every other reduction."""
    out = []
    for line, src, equation in rows:
        s = (lambda src: lambda e: getattr(e, src))(src)
        variants = {
            "axis1": (lambda e, s=s: s(e).sum(axis=1), f"{src}.sum(axis=1) adds the gates' columns of each row"),
            "all": (lambda e, s=s: s(e).sum(), f"{src}.sum() adds everything, rows and columns, into one number"),
            "mean": (lambda e, s=s: s(e).mean(axis=0), f"{src}.mean(axis=0) is the mean over the batch; the loss "
                     "adds the rows, so the gradient adds them too"),
            "mean_axis1": (lambda e, s=s: s(e).mean(axis=1), f"{src}.mean(axis=1) averages the columns of each row"),
            "keepdims": (lambda e, s=s: s(e).sum(axis=0, keepdims=True), f"{src}.sum(axis=0, keepdims=True) keeps "
                         "the summed axis: the right numbers, as a (1, n) row instead of a vector"),
            "none": (lambda e, s=s: s(e), f"{src} was not reduced over the batch: one row per example"),
        }  # fmt: skip
        for name, (fn, what) in variants.items():
            out.append(Mistake(f"{line}_{name}", {line: fn}, f"{line}: {what}; {equation}", "reduction"))
    return out


def concat_orders(line, blocks, gates, label, equation, key=None):
    """Every other order of concatenating ``blocks`` (the lines of each gate's gradient) into ``line``."""
    out = []
    for perm in itertools.permutations(range(len(blocks))):
        if perm == tuple(range(len(blocks))):
            continue
        fn = (lambda perm: lambda e: np.concatenate([getattr(e, blocks[k]) for k in perm], axis=1))(perm)
        order = _order(gates[k] for k in perm)
        out.append(Mistake(f"{key or line}_{''.join(gates[k] for k in perm)}", {line: fn},
                           f"{label} was put together in the order {order}; it must follow the order of Wx, Wh and "
                           f"the biases, {_order(gates)}: {equation}", "concatenation order"))  # fmt: skip
    return out
