"""The report in words: one line per finding, the right parts named once, numbers on the small fixed input."""

from __future__ import annotations

import numpy as np

from ..gradcheck import numerical_gradient, relative_error
from .catalogue import MISTAKES
from .errors import describe, where
from .hints import FORMULAS
from .readers import same

__all__ = ["report"]


def _fmt(a):
    text = np.array2string(np.asarray(a), precision=4, floatmode="maxprec", suppress_small=True, max_line_width=200)
    return " ".join(text.split())


def _display(parts):
    names = []
    for p in parts:
        name = p.split("_")[0] if p.startswith(("dz_", "da_", "du_")) else p
        if name not in names:
            names.append(name)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _is(parts):
    return "are" if " and " in _display(parts) else "is"


def _batches(runs):
    sizes = sorted({r.probe.B for r in runs})
    return "B = " + ", ".join(map(str, sizes))


def _raised_lines(runs):
    raised = [r for r in runs if r.raised is not None]
    if not raised:
        return []
    first = raised[0]
    exc = first.raised
    kind = type(exc).__name__
    if isinstance(exc, SystemExit):
        text = "SystemExit: sys.exit() or exit() stops a program; a step returns its outputs with `return`"
    else:
        text = describe(exc)
    label = first.probe.label + ("" if first.probe.label.startswith("random") else f" {first.probe.shape}")
    line = f"Your function raised {kind} on {len(raised)} of {len(runs)} inputs ({_batches(raised)}), first on {label}: "
    out = [line + text]
    w = where(exc)
    if w:
        out.append(f"    {w}")
    ran = [r for r in runs if r.raised is None]
    if ran and all(r.probe.B == 1 for r in ran):
        out.append("    It ran only for one row (B = 1): something that agrees with the right product for one row "
                   "only, e.g. `*` where `@` belongs, or a sum over the wrong axis.")  # fmt: skip
    elif ran and all(r.probe.D == r.probe.H for r in ran if r.probe.label.startswith("random")) and any(
            r.probe.label.startswith("random") for r in ran):  # fmt: skip
        out.append("    It ran only where D == H: is Wx used where Wh belongs, or the reverse?")
    return out


def _mistake_line(ex, label, detail):
    words = MISTAKES[ex.key]
    if len(detail) == 1:
        msg = words[detail[0]].words
        first, _, rest = msg.partition(": ")
        if first in label.split(", "):
            return [f"  {label}: wrong: {rest}."]
        return [f"  {label}: wrong. {msg}."]
    return [f"  {label}: wrong, looks like two mistakes:"] + [f"    - {words[m].words}." for m in detail]


def _numerical_line(ex, runs, verdict):
    if ex.loss is None:
        return ""
    for r in runs:
        if not r.probe.numerical:
            continue
        where_ = f"Against central differences ({r.probe.label}):"
        if r.parts is None:
            return f"{where_} not compared: your function did not return a readable result on this input."
        loss, arrays = ex.loss(r.probe)
        errs = {k: relative_error(r.parts[k], numerical_gradient(loss, a)) for k, a in arrays.items() if k in r.parts}
        missing = [k for k in arrays if k not in r.parts]
        bad = {k: e for k, e in errs.items() if e > 1e-7}
        agree = [k for k in errs if k not in bad]
        text = where_
        if bad:
            text += " " + ", ".join(f"{k} {e:.2g}" for k, e in bad.items()) + " differ (relative error);"
        if agree and not bad and not missing:
            worst = max(errs, key=errs.get)
            text += f" all agree ({', '.join(agree)}), largest relative error {errs[worst]:.1g} ({worst})"
        elif agree:
            text += f" {', '.join(agree)} agree"
        if missing:
            text += ("," if agree else "") + f" {', '.join(missing)} not compared (not readable on this input)"
        return text.rstrip(";") + "."
    return ""


def report(ex, name, runs, diagnosis, mutated, CheckResult):
    head = f"{name}: {ex.title}, {ex.signature}"
    lines = _raised_lines(runs)
    unreadable = [r for r in runs if r.unreadable]
    if unreadable:
        lines.append(f"Your function {unreadable[0].unreadable} (on {unreadable[0].probe.label}).")
    if diagnosis is None:
        return CheckResult(ex.key, False, "error", [head, "  NOT YET: nothing could be checked."] +
                           ["  " + s for s in lines])  # fmt: skip
    if mutated:
        lines.append(f"Your function changed its input {', '.join(mutated)} in place (e.g. `+=` on an argument): "
                     "the caller still needs it. Work on a new array (`dc = dc_next + ...`).")  # fmt: skip
    verdict, explain, refs = diagnosis.verdict, diagnosis.explain, diagnosis.refs
    readable = [r for r in runs if r.parts is not None]
    problems = {}
    for r in readable:
        for part, msg in r.problems.items():
            problems.setdefault(part, f"{msg} (on {r.probe.label})")
    ok = not lines and not problems and all(v == "right" for v in verdict.values())
    order = [p for p in ex.parts if p in verdict]
    if ok:
        worst = max(relative_error(r.parts[k], getattr(refs[id(r.probe)], k)) for r in readable for k in r.parts
                    if k in order)  # fmt: skip
        text = (f"{', '.join(order)} equal the reference on {len(readable)} inputs (the small fixed one and random "
                f"float64 ones, {_batches(readable)}; largest relative error {worst:.1g}).")  # fmt: skip
        numerical = _numerical_line(ex, runs, verdict)
        return CheckResult(ex.key, True, "passed", [f"{head}\n  PASSED: {text}" + (" " + numerical if numerical
                                                                                    else "")], verdict)  # fmt: skip

    n_bad = sum(v in ("wrong", "unread") for v in verdict.values())
    n_follow = sum(v == "follows" for v in verdict.values())
    out = [head]
    if n_bad or n_follow:
        because = f" ({n_follow} only because of another part)" if n_follow else ""
        out.append(f"  NOT YET: {n_bad + n_follow} of {len(verdict)} parts wrong{because}.")
    else:
        out.append("  NOT YET.")
    out += ["  " + s for s in lines]
    for part in [p for p in order if p in problems] + [p for p in problems if p not in order]:
        out.append(f"  {problems[part]}")
        kind, detail = explain.get(part, (None, None))
        if kind == "shape":
            out.append(f"    {MISTAKES[ex.key][detail[0]].words}.")
        elif kind == "transposed":
            out.append(f"    It holds the transpose of {part}: {FORMULAS[ex.key].get(part, part)}.")
    groups = {}
    for part in order:
        if verdict[part] in ("wrong", "follows"):
            groups.setdefault(explain.get(part, ("unknown", None)), []).append(part)
    for (kind, detail), names in groups.items():
        label = ", ".join(names)
        if kind == "mistake":
            out += _mistake_line(ex, label, detail)
        elif kind == "follows":
            each = "each is" if len(names) > 1 else "it is"
            what = _display(detail)
            out.append(f"  {label}: wrong only because {what} {_is(detail)} wrong ({each} right for your {what}).")
        elif kind == "stored":
            out.append(f"  {label}: wrong: the cache holds {detail} in the place of {label}; the cache is "
                       f"({', '.join(ex.cache)}), in this order.")  # fmt: skip
        elif kind == "follows?":
            out.append(f"  {label}: wrong, and {_display(detail)} {_is(detail)} wrong: fix {_display(detail)} first.")
        else:
            for part in names:
                bad = [r for r in readable if part in r.parts and not same(r.parts[part], getattr(refs[id(r.probe)],
                                                                                                   part))]  # fmt: skip
                r = bad[0]
                err = relative_error(r.parts[part], getattr(refs[id(r.probe)], part))
                note = " (right for B = 1: look at the sums over the batch)" if all(q.probe.B > 1 for q in bad) else ""
                out.append(f"  {part}: wrong{note}, relative error {err:.2g} on {r.probe.label}; not a mistake the "
                           f"checker knows. Expected: {FORMULAS[ex.key].get(part, part)}.")  # fmt: skip
    right = [k for k in order if verdict[k] == "right"]
    if right:
        out.append(f"  {', '.join(right)}: right.")
    unchecked = [k for k in order if verdict[k] == "unchecked"]
    for kind in ("raised", "unseen"):
        names = [k for k in unchecked if explain.get(k, ("raised",))[0] == kind]
        if names and kind == "raised":
            out.append(f"  {', '.join(names)}: equal to the reference where your function ran ({_batches(readable)}); "
                       "not checked where it raised.")  # fmt: skip
        elif names:
            sizes = sorted({b for k in names for b in explain[k][1]})
            out.append(f"  {', '.join(names)}: equal to the reference where they could be read; for "
                       f"B = {', '.join(map(str, sizes))} they could not be read (the gradients that hold them "
                       "disagree) and what is computed from them differs: not checked there.")  # fmt: skip
    fixed = readable[0] if readable and readable[0].probe.label.startswith("the small") else None
    if fixed is not None:
        ref = refs[id(fixed.probe)]
        bad = [k for k in order if verdict[k] in ("wrong",) and k in fixed.parts
               and not same(fixed.parts[k], getattr(ref, k))]  # fmt: skip
        if bad:
            out.append(f'  On the small fixed input (lstm_np.exercises.fixed_inputs("{ex.key}")):')
            out += [f"    {k}: expected {_fmt(getattr(ref, k))}, got {_fmt(fixed.parts[k])}" for k in bad[:4]]
    numerical = _numerical_line(ex, runs, verdict)
    if numerical:
        out.append("  " + numerical)
    status = "wrong" if readable else "error"
    return CheckResult(ex.key, False, status, out, verdict)
