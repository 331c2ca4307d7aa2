"""An exception raised by your function, in words: where, and for a shape error, the operands' shapes and a question.

NumPy says "matmul: Input operand 1 has a mismatch in its core dimension 0 ...
(size 1 is different from 4)". The checker finds the line of your code that
raised, re-reads the expression (names, ``.T``, slices, arithmetic and NumPy
calls only: nothing of yours is called again), finds the product or sum whose
operands do not fit, and says: "``dz @ Wh`` multiplies a (1, 4) array by a
(1, 4) one: the inner sizes 4 and 1 differ. Is a transpose missing
(``Wh.T``)?".
"""

from __future__ import annotations

import ast
import linecache
import traceback
from pathlib import Path

import numpy as np

__all__ = ["describe", "where"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
_NUMPY_DIR = str(Path(np.__file__).resolve().parent)


def _learner_frames(tb):
    """The traceback's frames outside this package and NumPy (the learner's code), innermost last."""
    frames = []
    while tb is not None:
        name = str(Path(tb.tb_frame.f_code.co_filename).resolve())
        if not name.startswith((_NUMPY_DIR, _PACKAGE_DIR)):
            frames.append(tb)
        tb = tb.tb_next
    return frames


def _source_line(tb):
    frame = tb.tb_frame
    return linecache.getline(frame.f_code.co_filename, tb.tb_lineno, frame.f_globals).strip()


def where(exc):
    """``"in fn, at: line"`` for the innermost line of the learner's code that raised ``exc`` ("" if none)."""
    frames = _learner_frames(exc.__traceback__)
    if not frames:
        summary = traceback.extract_tb(exc.__traceback__)
        return f"in {summary[-1].name}" if summary else ""
    tb = frames[-1]
    line = _source_line(tb)
    name = tb.tb_frame.f_code.co_name
    return f"in {name}, at: {line}" if line else f"in {name}"


class _Unsafe(Exception):
    pass


_SAFE_CALLS = {"reshape", "sum", "mean", "transpose", "copy", "astype", "squeeze", "ravel", "flatten"}
_OPS = {ast.MatMult: "@", ast.Mult: "*", ast.Add: "+", ast.Sub: "-", ast.Div: "/"}


def _eval(node, names):
    """Evaluate a side-effect-free expression: names, constants, attributes, slices, arithmetic, NumPy calls."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise _Unsafe(node.id)
        return names[node.id]
    if isinstance(node, ast.Attribute):
        value = _eval(node.value, names)
        if node.attr in ("T", "shape", "ndim", "size") and isinstance(value, np.ndarray):
            return getattr(value, node.attr)
        if value is np or getattr(value, "__name__", "").startswith("numpy"):
            return getattr(value, node.attr)
        raise _Unsafe(node.attr)
    if isinstance(node, ast.Subscript):
        return _eval(node.value, names)[_eval(node.slice, names)]
    if isinstance(node, ast.Slice):
        return slice(*(None if v is None else _eval(v, names) for v in (node.lower, node.upper, node.step)))
    if isinstance(node, ast.Tuple):
        return tuple(_eval(v, names) for v in node.elts)
    if isinstance(node, ast.List):
        return [_eval(v, names) for v in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, names)
    if isinstance(node, ast.BinOp) and type(node.op) in (*_OPS, ast.Pow):
        left, right = _eval(node.left, names), _eval(node.right, names)
        return {ast.MatMult: np.matmul, ast.Mult: np.multiply, ast.Add: np.add, ast.Sub: np.subtract,
                ast.Div: np.divide, ast.Pow: np.power}[type(node.op)](left, right)  # fmt: skip
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _SAFE_CALLS:
            obj = _eval(func.value, names)
            if isinstance(obj, np.ndarray):
                args = [_eval(a, names) for a in node.args]
                kwargs = {k.arg: _eval(k.value, names) for k in node.keywords}
                return getattr(obj, func.attr)(*args, **kwargs)
        f = _eval(func, names)
        if getattr(f, "__module__", "") and str(getattr(f, "__module__", "")).startswith(("numpy", "lstm_np.cells")) \
                or isinstance(f, np.ufunc):  # fmt: skip
            return f(*[_eval(a, names) for a in node.args], **{k.arg: _eval(k.value, names) for k in node.keywords})
        raise _Unsafe("call")
    raise _Unsafe(type(node).__name__)


def _question(op, a, b, left, right):
    """A sentence and a question about two operands that do not fit."""
    sa, sb = np.shape(a), np.shape(b)
    if op == "@":
        if len(sa) == 2 and len(sb) == 2:
            head = (f"`{left} @ {right}` multiplies a {sa} array by a {sb} one: a matrix product needs the inner "
                    f"sizes to agree ({sa[1]} and {sb[0]} here).")  # fmt: skip
            if sa[1] == sb[1]:
                return head + f" Is a transpose missing (`{right}.T`)?"
            if sa[0] == sb[0]:
                return head + f" Is a transpose missing (`{left}.T`)?"
            if sa == sb:
                return head + " Is `@` used where the element-wise `*` belongs?"
            return head + " Which two arrays should this product take?"
        return f"`{left} @ {right}` multiplies a {sa} array by a {sb} one, and their sizes do not fit."
    head = f"`{left} {op} {right}` combines a {sa} and a {sb} array element by element, and these shapes do not broadcast."
    if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0]:
        return head + (" Is `*` (element-wise) used where `@` (a matrix product) belongs? With one row (B = 1) "
                       "the two can give the same numbers, which is why it can run there.")  # fmt: skip
    if sa == sb[::-1]:
        return head + " Is one of them transposed?"
    return head + " Are both (B, H), or is one of them a block of the wrong width?"


def _operands(tree, names):
    """The first operation (innermost first) whose operands do not fit: (op, a, b, left, right)."""
    found = None  # the operations from the outermost in: the last failing one is the innermost
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.BinOp) and type(n.op) in _OPS),
                       key=lambda n: -len(ast.unparse(n))):  # fmt: skip
        try:
            a, b = _eval(node.left, names), _eval(node.right, names)
        except _Unsafe:
            continue
        except Exception:  # noqa: BLE001 - an operand that itself fails: look further in
            continue
        op = _OPS[type(node.op)]
        try:
            with np.errstate(all="ignore"):
                (np.matmul if op == "@" else np.add)(a, b)
        except (ValueError, TypeError):
            found = (op, a, b, ast.unparse(node.left), ast.unparse(node.right))
    return found


def _failing_segment(tb):
    """The source of the expression that raised (Python 3.11+ records its columns), or the whole line."""
    line = _source_line(tb)
    frame = next((f for f in traceback.extract_tb(tb, limit=1)), None)
    full = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno, tb.tb_frame.f_globals)
    col, end = getattr(frame, "colno", None), getattr(frame, "end_colno", None)
    if frame is not None and col is not None and end is not None and frame.end_lineno == frame.lineno:
        return full[col:end]
    return line


def _parse(text):
    for candidate in (text, text.strip().removeprefix("return ")):
        try:
            return ast.parse(candidate.strip(), mode="exec")
        except SyntaxError:
            continue
    return None


def describe(exc):
    """A sentence for ``exc``: for a shape error, the operands and a question; otherwise NumPy's words."""
    text = str(exc)
    if not isinstance(exc, ValueError):
        return text
    frames = _learner_frames(exc.__traceback__)
    if frames:
        tb = frames[-1]
        tree = _parse(_failing_segment(tb)) or _parse(_source_line(tb))
        if tree is not None:
            names = {**tb.tb_frame.f_globals, **tb.tb_frame.f_locals}
            try:
                found = _operands(tree, names)
            except Exception:  # noqa: BLE001 - the description is a courtesy; NumPy's words remain
                found = None
            if found is not None:
                return _question(*found)
    if "concatenat" in text:
        return (f"{text}. np.concatenate needs every size but the one along the axis to agree: are all blocks "
                "(B, H), and is the axis 1?")  # fmt: skip
    if "matmul" in text or "aligned" in text:
        return f"a matrix product whose inner sizes differ ({text}). Is a transpose missing?"
    return text
