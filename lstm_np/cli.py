"""The ``lstm-np`` command (also ``python -m lstm_np``)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _cmd_gradcheck(args):
    from .gradcheck import format_report, gradcheck_report

    rows = gradcheck_report(seed=args.seed, tol=args.tol)
    print(format_report(rows, tol=args.tol))
    return 0 if all(r["ok"] for r in rows) else 1


def build_parser():
    parser = argparse.ArgumentParser(prog="lstm-np", description="A from-scratch NumPy LSTM.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("gradcheck", help="check every analytic gradient against central differences")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test problems (default 0)")
    p.add_argument("--tol", type=float, default=1e-7, help="largest relative error accepted (default 1e-7)")
    p.set_defaults(func=_cmd_gradcheck)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
