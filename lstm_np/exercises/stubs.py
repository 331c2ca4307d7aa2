"""The stub version of the exercise notebook, and ``python -m lstm_np.exercises --stubs SRC DST``."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

__all__ = ["SOLUTION_TAG", "SOLUTION_MARKER", "STUB_LINES", "make_stubs", "write_stub_notebook", "main"]

#: Cell tag and source line that mark a solution in the exercise notebook.
SOLUTION_TAG = "solution"
SOLUTION_MARKER = "# SOLUTION"
STUB_LINES = ("# YOUR CODE HERE: the equations are in the cell above.", 'raise NotImplementedError("your code here")')


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _cells(nb):
    """The notebook's list of cells, or a ValueError saying what is not a notebook about it."""
    if not isinstance(nb, dict):
        raise ValueError(f"not a notebook: the file holds a JSON {type(nb).__name__}, not an object with \"cells\"")
    cells = nb.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise ValueError('not a notebook: expected a "cells" list of objects')
    return cells


def make_stubs(nb):
    """The exercise notebook with every solution replaced by a stub.

    In each cell tagged ``"solution"``, everything from the ``# SOLUTION`` line
    to the end of the cell becomes ``raise NotImplementedError`` (at the same
    indentation), so the function keeps its signature and docstring. Outputs and
    execution counts are cleared; the tag becomes ``"exercise"``.

    Parameters
    ----------
    nb : dict
        A notebook as read by ``json.load`` or ``nbformat.read`` (not modified).

    Returns
    -------
    dict
        A new notebook of the same kind.

    Raises
    ------
    ValueError
        If ``nb`` is not a notebook, has no solution cell, or a solution cell has no
        single ``# SOLUTION`` line.
    """
    _cells(nb)
    nb = copy.deepcopy(nb)
    n_solutions = 0
    for k, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG not in tags:
            continue
        lines = _source(cell).split("\n")
        marks = [j for j, line in enumerate(lines) if line.strip() == SOLUTION_MARKER]
        if len(marks) != 1:
            raise ValueError(
                f"cell {k} is tagged {SOLUTION_TAG!r} but has {len(marks)} {SOLUTION_MARKER!r} lines; expected 1"
            )
        j = marks[0]
        indent = lines[j][: len(lines[j]) - len(lines[j].lstrip())]
        cell["source"] = "\n".join(lines[:j] + [indent + s for s in STUB_LINES])
        cell["metadata"]["tags"] = ["exercise" if t == SOLUTION_TAG else t for t in tags]
        n_solutions += 1
    if not n_solutions:
        raise ValueError(f"no cell tagged {SOLUTION_TAG!r}: is this the exercise notebook?")
    return nb


def write_stub_notebook(src, dst):
    """Read the notebook ``src``, write its stub version (``make_stubs``) to ``dst``; nothing is written on error."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("dst must differ from src: the stub version would overwrite the solutions")
    try:
        nb = json.loads(src.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{src} is not a notebook: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{src} is not a notebook: not JSON ({exc.msg}, line {exc.lineno})") from None
    try:
        text = json.dumps(make_stubs(nb), indent=1, ensure_ascii=False) + "\n"
    except ValueError as exc:
        raise ValueError(f"{src}: {exc}") from None
    dst.write_text(text, encoding="utf-8")
    return dst


def main(argv=None):
    """``python -m lstm_np.exercises --stubs SRC DST``: exit status 0, or 2 with one line naming what was wrong."""
    parser = argparse.ArgumentParser(prog="python -m lstm_np.exercises",
                                     description="Write the stub version of the exercise notebook.")  # fmt: skip
    parser.add_argument("--stubs", nargs=2, metavar=("SRC", "DST"), required=True,
                        help="write the notebook SRC with its solutions replaced by stubs to DST")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        dst = write_stub_notebook(*args.stubs)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    print(f"wrote {dst}: fill in the functions marked 'YOUR CODE HERE'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
