"""The diagnosis: each part right or wrong, and for a wrong part, why, judged in dependency order.

A part is judged on its own line(s) only: where the checker could read your
values of the parts it is computed from (its *upstream*, traced from the
reference's lines), it recomputes the part from *your* values. If that gives
your part, the part is right for its inputs and wrong only because of them
("follows"); otherwise its own lines are wrong, and the checker looks for the
mistake of the catalogue (one, then two) that reproduces your part from your
inputs on every batch size. A part is called right only when it equals the
reference on every input where it could be read, and the function ran on all
of them; where the function raised on some inputs, the parts that agreed
elsewhere are "unchecked", never right.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .catalogue import MISTAKES
from .equations import STEPS, evaluate, inputs_of, trace
from .readers import same

__all__ = ["Run", "Diagnosis", "diagnose", "structure"]


@dataclass
class Run:
    """What one call of your function gave: the parts read, the problems, the raw arrays, or what it raised."""

    probe: object
    parts: dict = None
    problems: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    raised: BaseException = None
    unreadable: str = None


@dataclass
class Diagnosis:
    verdict: dict  # part -> right | wrong | follows | unread | unchecked
    explain: dict  # part -> (kind, detail)
    refs: dict  # id(probe) -> the reference Env


def structure(step, parts):
    """``(upstream, own, below)``: for each part, the parts it is computed from, its own lines, the parts after it."""
    lines = STEPS[step]
    parts = [p for p in parts if p in lines]
    from .inputs import probes  # the fixed input is enough to trace which names each line reads

    deps = trace(step, inputs_of(step, probes(step)[0]))
    upstream, own = {}, {}
    for part in parts:
        ups, mine, todo = set(), {part}, list(deps[part])
        while todo:
            name = todo.pop()
            if name in parts:
                ups.add(name)
            elif name in lines and name not in mine:
                mine.add(name)
                todo += deps[name]
        upstream[part], own[part] = ups, mine
    below = {p: {q for q in parts if p in _closure(q, upstream)} for p in parts}
    return upstream, own, below


def _closure(part, upstream):
    out, todo = set(), list(upstream.get(part, ()))
    while todo:
        u = todo.pop()
        if u not in out:
            out.add(u)
            todo += upstream.get(u, ())
    return out


def _value(step, run, part, lines, yours):
    try:
        with np.errstate(all="ignore"):
            v = getattr(evaluate(step, inputs_of(step, run.probe), lines, yours), part)
        return np.asarray(v, dtype=np.float64)
    except Exception:  # noqa: BLE001 - a mistake that does not run at this shape
        return None


def diagnose(ex, runs):
    """Verdicts and explanations for the readable ``runs`` of exercise ``ex``."""
    step, order = ex.key, [p for p in ex.parts if p in STEPS[ex.key]]
    upstream, own, below = ex.structure
    readable = [r for r in runs if r.parts is not None]
    complete = len(readable) == len(runs)
    refs = {id(r.probe): evaluate(step, inputs_of(step, r.probe)) for r in readable}
    ref = lambda r, part: np.asarray(getattr(refs[id(r.probe)], part))  # noqa: E731

    verdict, explain = {}, {}
    for part in order:
        seen = [r for r in readable if part in r.parts]
        problem = any(part in r.problems for r in readable)
        if not seen:
            if problem:
                verdict[part] = "unread"
            continue
        bad = [r for r in seen if not same(r.parts[part], ref(r, part))]
        if bad:
            verdict[part] = "wrong"
        elif problem:
            verdict[part] = "unread"
        elif not complete:
            verdict[part] = "unchecked"
            explain[part] = ("raised", None)
        else:
            unseen = [r for r in readable if part not in r.parts]
            after = [q for q in below[part] if q in order]
            if unseen and not all(q in r.parts and same(r.parts[q], ref(r, q)) for r in unseen for q in after):
                verdict[part] = "unchecked"
                explain[part] = ("unseen", tuple(sorted({r.probe.B for r in unseen})))
            else:
                verdict[part] = "right"
    if "cache" in ex.parts:
        verdict["cache"] = "unread" if any("cache" in r.problems for r in readable) else (
            "right" if complete else "unchecked")  # fmt: skip

    found = []  # mistakes already named: tried first for the next part
    for part in order:
        if verdict.get(part) == "wrong":
            explain[part] = _explain(ex, part, readable, verdict, found, upstream, own, below, ref)
        elif verdict.get(part) == "unread":
            shaped = _explain_shape(ex, part, readable, verdict, found, own, below, ref)
            if shaped:
                explain[part] = shaped
        kind, detail = explain.get(part, (None, None))
        if kind == "follows":
            verdict[part] = "follows"
        if kind in ("mistake", "shape") and detail:
            found += [m for m in detail if m not in found]
    return Diagnosis(verdict, explain, refs)


def _yours(run, part, below):
    """Your values of every part read on this run, except ``part`` and what is computed from it."""
    return {k: v for k, v in run.parts.items() if k != part and k not in below[part]}


def _usable(part, readable, verdict, upstream, below):
    """The runs where your upstream of ``part`` could be read (or is right), with your values to use."""
    out = []
    for r in readable:
        if part not in r.parts:
            continue
        missing = [u for u in upstream[part] if u not in r.parts]
        if any(verdict.get(u) != "right" for u in missing):
            continue
        out.append((r, _yours(r, part, below)))
    return out


def _explain(ex, part, readable, verdict, found, upstream, own, below, ref):
    step = ex.key
    usable = _usable(part, readable, verdict, upstream, below)
    wrong_ups = [u for u in sorted(upstream[part], key=ex.parts.index) if verdict.get(u) not in ("right", None)]
    bad = [r for r in readable if part in r.parts and not same(r.parts[part], ref(r, part))]
    if usable and all(same(r.parts[part], v) for r, y in usable if (v := _value(step, r, part, None, y)) is not None):
        if wrong_ups and all(any(r is u for u, _ in usable) for r in bad):
            return ("follows", tuple(wrong_ups))
        if wrong_ups:
            return ("follows?", tuple(wrong_ups))
    if not usable:
        return ("follows?", tuple(wrong_ups)) if wrong_ups else ("unknown", None)
    stored = _stored_as(ex, part, usable, below, readable, ref)
    if stored:
        return ("stored", stored)
    mistakes = _search(ex, part, usable, own, found, verdict, ref, below, pairs=False)
    if mistakes is None:
        mistakes = _search(ex, part, usable, own, found, verdict, ref, below, pairs=True)
    if mistakes:
        return ("mistake", tuple(mistakes))
    if wrong_ups:
        return ("follows?", tuple(wrong_ups))
    return ("unknown", None)


def _explain_shape(ex, part, readable, verdict, found, own, below, ref):
    """For a part of the wrong shape: the mistake (or a transpose) that gives exactly what you returned."""
    runs = [(r, _yours(r, part, below)) for r in readable if part in r.raw]
    if not runs or part not in own:
        return None
    given = [(r, _value(ex.key, r, part, None, y)) for r, y in runs]
    if all(v is not None and v.ndim == 2 and same(r.raw[part], v.T) for r, v in given):
        return ("transposed", None)
    relevant = [m for m in MISTAKES[ex.key].values() if set(m.lines) & own[part]]
    for m in relevant:
        if all((v := _value(ex.key, r, part, m.lines, y)) is not None and same(r.raw[part], v) for r, y in runs):
            return ("shape", (m.key,))
    return None


def _stored_as(ex, part, usable, below, readable, ref):
    """The cache entry your ``part`` holds (entries stored in the wrong order), when what follows from it is right."""
    if not ex.cache or part not in ex.cache:
        return None
    after = [q for q in below[part]]
    if not all(q in r.parts and same(r.parts[q], ref(r, q)) for r in readable for q in after):
        return None  # your computation used this value: not just the cache's order
    for other in ex.cache:
        if other != part and other in STEPS[ex.key] and all(same(r.parts[part], ref(r, other)) for r, _ in usable):
            return other
    return None


def _search(ex, part, usable, own, found, verdict, ref, below, pairs):
    """The mistake (or, with ``pairs``, two) of the catalogue that reproduces ``part`` from your inputs everywhere."""
    catalogue = MISTAKES[ex.key]
    relevant = [m for m in catalogue.values() if set(m.lines) & own[part]]
    relevant.sort(key=lambda m: m.key not in found)
    memo = {}

    def matches(ms):
        lines = {k: v for m in ms for k, v in m.lines.items()}
        for r, y in usable:
            key = (tuple(m.key for m in ms), id(r))
            if key not in memo:
                memo[key] = _value(ex.key, r, part, lines, y)
            v = memo[key]
            if v is None or not same(r.parts[part], v):
                return False
        return True

    if not pairs:
        singles = [m for m in relevant if matches((m,))]
        if not singles:
            return None
        right = [q for q, v in verdict.items() if v == "right" and q in STEPS[ex.key]]
        wrong = [q for q, v in verdict.items() if v == "wrong" and q != part]

        def changes(m, q):  # would make your right part q wrong
            return any((v := _value(ex.key, r, q, m.lines, {})) is None or not same(v, ref(r, q)) for r, _ in usable)

        def explains(m, q):  # gives your wrong part q too
            runs = [r for r, _ in usable if q in r.parts]
            return bool(runs) and all((v := _value(ex.key, r, q, m.lines, _yours(r, q, below))) is not None
                                      and same(r.parts[q], v) for r in runs)  # fmt: skip

        best = min(singles, key=lambda m: (m.key not in found, sum(changes(m, q) for q in right),
                                           -sum(explains(m, q) for q in wrong)))  # fmt: skip
        return [best.key]
    for m1, m2 in itertools.combinations(relevant, 2):
        if set(m1.lines) & set(m2.lines):
            continue
        if matches((m1, m2)):
            return [m1.key, m2.key]
    return None
