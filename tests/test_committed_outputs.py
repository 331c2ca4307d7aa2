"""Committed outputs that do not depend on training must be what a fresh run prints.

A code cell tagged ``fresh-output`` prints the same text in the quick setting as in the
committed full run (a fixed input, a gradient check, a report): ``test_notebooks.
test_notebook_runs`` compares its fresh text with the committed one, numbers in
scientific notation aside (their last digits may differ with the BLAS), so that a
committed output cannot go stale (notebook 02 once listed 50 checked arrays when the
package checked 267).
"""

import re

import pytest

TAG = "fresh-output"
_FLOAT = re.compile(r"-?\d+(\.\d+)?e[-+]?\d+")


def _text(cell):
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def stale_outputs(committed, fresh):
    """The indices of the cells tagged ``fresh-output`` whose committed text differs from the fresh one."""
    stale = []
    for k, (old, new) in enumerate(zip(committed["cells"], fresh["cells"])):
        if old.get("cell_type") == "code" and TAG in old.get("metadata", {}).get("tags", []):
            if _FLOAT.sub("#", _text(old)) != _FLOAT.sub("#", _text(new)):
                stale.append(k)
    return stale


def _nb(*texts, tags=(TAG,)):
    return {"cells": [{"cell_type": "code", "metadata": {"tags": list(tags)},
                       "outputs": [{"output_type": "stream", "name": "stdout", "text": t}]} for t in texts]}


def test_a_stale_tagged_output_is_found_and_float_digits_are_not():
    committed = _nb("all components (50 arrays): largest error 1.2e-09\n", "x 2.38e-11 ok\n")
    fresh = _nb("all components (267 arrays): largest error 6.7e-09\n", "x 2.41e-11 ok\n")
    assert stale_outputs(committed, fresh) == [0]
    assert stale_outputs(committed, committed) == []


@pytest.mark.parametrize("tags", [(), ("solution",)])
def test_untagged_cells_are_not_compared(tags):
    assert stale_outputs(_nb("a\n", tags=tags), _nb("b\n", tags=tags)) == []
