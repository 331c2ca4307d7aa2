"""The package's layers (ARCHITECTURE.md), enforced: every module's imports parsed with ``ast``.

Each module of ``lstm_np`` belongs to one layer (``LAYERS``, by its first name under ``lstm_np``);
``MAY_IMPORT`` says which layers it may import. A module that fits no layer fails the test, so a new
top-level module must be placed (here and in ARCHITECTURE.md) before it lands.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import lstm_np

PACKAGE = Path(lstm_np.__file__).parent
ROOT = "lstm_np"

#: The layer of each top-level name under lstm_np ("" is the package's own __init__.py).
LAYERS = {
    "_checks": "foundations", "io": "foundations",
    "cells": "equations",
    "data": "data",
    "sequence": "blocks", "feedforward": "blocks", "losses": "blocks", "optim": "blocks",
    "gradcheck": "checks",
    "": "root",
    "charlm": "applications", "recommender": "applications", "exercises": "applications",
    "studies": "studies",
    "cli": "entry", "cli_nextitem": "entry", "__main__": "entry", "experiments": "entry",
}

#: What each layer may import (besides itself: a layer always imports its own modules).
MAY_IMPORT = {
    "foundations": set(),
    "equations": set(),  # NumPy only: not even the argument checks
    "data": {"foundations"},
    "blocks": {"equations", "foundations"},
    "checks": {"blocks", "equations", "foundations"},
    "root": {"checks", "blocks", "equations", "foundations"},
    "applications": {"root", "checks", "blocks", "equations", "data", "foundations"},
    "studies": {"applications", "root", "checks", "blocks", "equations", "data", "foundations"},
    "entry": {"studies", "applications", "root", "checks", "blocks", "equations", "data", "foundations"},
}

#: The one upward import allowed: gradcheck's report checks every gradient of the package, so the
#: functions that build the applications' cases import them, inside the function only (a module-level
#: import would load an application with ``import lstm_np``).
LAZY_UPWARD = {("checks", "applications")}

#: Third-party packages by layer: below the applications nothing but NumPy.
THIRD_PARTY = {
    "equations": {"numpy"},
    "foundations": {"numpy"}, "data": {"numpy"}, "blocks": {"numpy"}, "checks": {"numpy"}, "root": {"numpy"},
}
DECLARED = {"numpy", "matplotlib", "tqdm"}  # pyproject.toml's dependencies
#: The equations read as NumPy only: of the standard library, only what has no run-time effect.
EQUATIONS_STDLIB = {"__future__", "typing"}


def module_name(path):
    """lstm_np/sequence/lstm.py -> lstm_np.sequence.lstm; lstm_np/cells/__init__.py -> lstm_np.cells."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name):
    return (PACKAGE.parent / Path(*name.split(".")) / "__init__.py").exists()


def is_module(name):
    base = PACKAGE.parent / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def layer_of(name):
    """The layer of module ``name`` (``lstm_np.x.y``), or None when LAYERS does not place it."""
    parts = name.split(".")
    return LAYERS.get(parts[1] if len(parts) > 1 else "")


def imports(name, source, is_pkg=False):
    """``(line, target, lazy)`` for every import in ``source``: ``target`` a full module name (a name
    imported from a package resolves to its submodule when it is one); ``lazy``: inside a function."""
    found = []
    package = name if is_pkg else name.rpartition(".")[0]

    def visit(node, lazy):
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name, lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    origin = ".".join(base + ([child.module] if child.module else []))
                else:
                    origin = child.module
                for a in child.names:
                    sub = f"{origin}.{a.name}"
                    target = sub if origin.split(".")[0] == ROOT and is_module(sub) else origin
                    found.append((child.lineno, target, lazy))
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def violations(name, source, is_pkg=False, where=None):
    """The broken rules of module ``name`` with text ``source``, one line each."""
    where = where or name
    mine = layer_of(name)
    if mine is None:
        return [f"{where}: lstm_np.{name.split('.')[1]} is in no layer; place it in LAYERS (tests/test_architecture.py) "
                "and in ARCHITECTURE.md"]
    out = []
    for line, target, lazy in imports(name, source, is_pkg):
        top = target.split(".")[0]
        if top == ROOT:
            theirs = layer_of(target)
            if theirs is None or theirs == mine and mine != "applications":
                continue  # a layer imports itself (an unplaced target fails as a module of its own)
            if theirs == mine:  # applications: siblings, each on its own
                if target.split(".")[1] != name.split(".")[1]:
                    out.append(f"{where} line {line}: imports {target}: one application never imports another "
                               f"(applications: charlm, recommender, exercises)")
                continue
            if theirs in MAY_IMPORT[mine] or (lazy and (mine, theirs) in LAZY_UPWARD):
                continue
            how = " at module level (only inside a function is allowed here)" if (mine, theirs) in LAZY_UPWARD else ""
            out.append(f"{where} line {line}: {mine} imports {target} ({theirs}){how}; {mine} may import "
                       f"{', '.join(sorted(MAY_IMPORT[mine])) or 'nothing else of lstm_np'} (ARCHITECTURE.md)")
        elif top in sys.stdlib_module_names or top == "__future__":
            if mine == "equations" and top not in EQUATIONS_STDLIB:
                out.append(f"{where} line {line}: the equations import NumPy only; found {target}")
        elif top not in THIRD_PARTY.get(mine, DECLARED):
            allowed = THIRD_PARTY.get(mine, DECLARED)
            out.append(f"{where} line {line}: {mine} imports {target}; it may use only "
                       f"{', '.join(sorted(allowed))} outside the standard library")
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_of_the_package_is_checked():
    names = {module_name(p) for p in MODULES}
    assert {"lstm_np", "lstm_np.cells.lstm", "lstm_np.sequence.lstm", "lstm_np.data.movielens",
            "lstm_np.recommender.nextitem", "lstm_np.charlm.model", "lstm_np.studies.laboratory", "lstm_np.cli",
            "lstm_np.io.model_file", "lstm_np.gradcheck"} <= names


def test_every_module_follows_the_import_rules():
    found = []
    for path in MODULES:
        found += violations(module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py",
                            where=str(path.relative_to(PACKAGE.parent)))
    assert not found, "\n".join(["the layers of ARCHITECTURE.md are broken:", *found])


# The checker itself, on planted sources: each rule catches what it is there for.

@pytest.mark.parametrize("name, source, expected", [
    ("lstm_np.sequence.fused", "from ..recommender import mf\n", "blocks imports lstm_np.recommender.mf (applications)"),
    ("lstm_np.cells.lstm", "from .._checks import as_rng\n", "equations imports lstm_np._checks"),
    ("lstm_np.cells.gru", "import math\n", "the equations import NumPy only; found math"),
    ("lstm_np.cells.gru", "import scipy.special\n", "equations imports scipy.special"),
    ("lstm_np.data.split", "from ..sequence import LSTM\n", "data imports lstm_np.sequence"),
    ("lstm_np.data.split", "import lstm_np\n", "data imports lstm_np (root)"),
    ("lstm_np.charlm.model", "def f():\n    from ..recommender import nextitem\n", "one application never imports"),
    ("lstm_np.recommender.hybrid", "from ..studies import run\n", "applications imports lstm_np.studies"),
    ("lstm_np.gradcheck", "from .charlm import CharLM\n", "at module level (only inside a function"),
    ("lstm_np.optim", "import tqdm\n", "may use only numpy outside the standard library"),
    ("lstm_np.newthing", "import numpy\n", "lstm_np.newthing is in no layer"),
])
def test_the_checker_catches_each_kind_of_broken_rule(name, source, expected):
    found = violations(name, source)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize("name, source, is_pkg", [
    ("lstm_np.gradcheck", "def case():\n    from .charlm import CharLM\n", False),  # the documented exception
    ("lstm_np.recommender.hybrid", "from .. import GRU, LSTM\nfrom ..data import Ratings\n", False),
    ("lstm_np.cells", "from . import article, lstm\n", True),
    ("lstm_np.studies.laboratory", "from ..charlm import train_char_model\n", False),
    ("lstm_np.cli", "from .studies import run_lab\n", False),
])
def test_the_checker_allows_what_the_layers_allow(name, source, is_pkg):
    assert violations(name, source, is_pkg) == []


def test_relative_imports_resolve_to_modules():
    assert [t for _, t, _ in imports("lstm_np.cells", "from . import article\nfrom .lstm import sigmoid\n", True)] \
        == ["lstm_np.cells.article", "lstm_np.cells.lstm"]
    assert [t for _, t, _ in imports("lstm_np.recommender.hybrid", "from .. import LSTM, io\n")] \
        == ["lstm_np", "lstm_np.io"]
    assert [(t, lazy) for _, t, lazy in imports("lstm_np.gradcheck", "def f():\n    from .charlm import CharLM\n")] \
        == [("lstm_np.charlm", True)]
