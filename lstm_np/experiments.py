"""Former home of the two studies, kept as an alias: everything now lives in ``lstm_np.studies``.

``from lstm_np.experiments import run, run_lab`` and

    python -m lstm_np.experiments [--quick] [--out DIR] [--workers N]          # = lstm-np compare
    python -m lstm_np.experiments --lab [--quick] [--out DIR] [--workers N]    # = lstm-np lab

keep working; new code imports from ``lstm_np.studies`` (``studies.comparison``,
``studies.laboratory``) and runs the studies with ``lstm-np compare`` / ``lstm-np lab``.
"""

from __future__ import annotations

import sys

from .studies import *  # noqa: F401,F403  (the public names, as before)
from .studies import __all__ as _studies_all

__all__ = [*_studies_all, "main"]


def main(argv=None):
    """``python -m lstm_np.experiments [--lab] [--quick] [--out DIR] [--workers N]``: ``lstm-np compare`` (or,
    with ``--lab``, ``lstm-np lab``) with the same options, output and exit status."""
    from .cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    command = "lab" if "--lab" in argv else "compare"
    return cli_main([command, *(a for a in argv if a != "--lab")])


if __name__ == "__main__":
    raise SystemExit(main())
