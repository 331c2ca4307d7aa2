"""Former home of the two studies, kept as an alias: everything now lives in ``lstm_np.studies``.

``from lstm_np.experiments import run, run_lab`` and

    python -m lstm_np.experiments [--quick] [--out DIR] [--workers N]          # = lstm-np compare
    python -m lstm_np.experiments --lab [--quick] [--out DIR] [--workers N]    # = lstm-np lab

keep working; new code imports from ``lstm_np.studies`` (``studies.comparison``,
``studies.laboratory``) and runs the studies with ``lstm-np compare`` / ``lstm-np lab``.
"""

from __future__ import annotations

import argparse

from .studies import *  # noqa: F401,F403  (the public names, as before)
from .studies import __all__ as _studies_all
from .studies import format_lab, format_results, run, run_lab

__all__ = [*_studies_all, "main"]


def main(argv=None):
    """``python -m lstm_np.experiments [--lab] [--quick] [--out DIR] [--workers N]``."""
    p = argparse.ArgumentParser(prog="python -m lstm_np.experiments", description="RNN vs GRU vs LSTM, or (--lab) the laboratory of cell variants.")
    p.add_argument("--lab", action="store_true",
                   help="the laboratory instead: every variant of the cell on three tasks (default out: runs/lab)")
    p.add_argument("--quick", action="store_true", default=None, help="small setting (< 30 s); or LSTM_NP_QUICK=1")
    p.add_argument("--out", default=None, help="output folder (default: runs/experiments, or runs/lab with --lab)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: 1 if quick, else CPUs, at most 4)")
    args = p.parse_args(argv)
    if args.lab:
        out = args.out or "runs/lab"
        results = run_lab(out, quick=args.quick, workers=args.workers)
        print(format_lab(results))
        print(f"wrote {out}/lab.md, lab.json, lab.png")
        return 0
    out = args.out or "runs/experiments"
    results = run(out, quick=args.quick, workers=args.workers)
    print(format_results(results))
    print(f"wrote {out}/results.md, results.json, adding.png, gradient_flow.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
