"""The ``lstm-np`` command (also ``python -m lstm_np``).

    lstm-np gradcheck                      check every gradient, print the table
    lstm-np train [--data synthetic] ...   train the recommender, write model + metrics + plot
    lstm-np evaluate MODEL                 reprint the metrics of a saved model
    lstm-np recommend MODEL --user ID      the unseen movies it rates highest
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def _cmd_gradcheck(args):
    from .gradcheck import format_report, gradcheck_report

    rows = gradcheck_report(seed=args.seed, tol=args.tol)
    print(format_report(rows, tol=args.tol))
    return 0 if all(r["ok"] for r in rows) else 1


def _cmd_train(args):
    from .recommender.pipeline import run
    from .recommender.train import TrainConfig

    try:
        config = TrainConfig.for_data(
            args.data, cell=args.cell, embed_dim=args.embed_dim, hidden_size=args.hidden_size, epochs=args.epochs,
            lr=args.lr, batch_size=args.batch_size, seed=args.seed, dtype=args.dtype, patience=args.patience,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or f"runs/{args.data}"
    _check_out(out, replaceable=RUN_FILES)  # before any training: a bad --out costs nothing
    run(args.data, config, out, cache_dir=args.cache_dir, data_seed=args.data_seed, progress=not args.no_progress)
    print(f"wrote {out}/model.npz, {out}/model.json, {out}/metrics.json, {out}/training.png")
    return 0


def _cmd_evaluate(args):
    from .data import TEST, VAL
    from .recommender.evaluate import evaluate_part
    from .recommender.pipeline import baselines, load_model, metrics_table

    model, exp, meta = load_model(args.model, cache_dir=args.cache_dir)
    base, _ = baselines(exp)
    metrics = {
        "baselines": base,
        "train": meta["train"],
        "lstm": {"val": evaluate_part(model, exp.seqs, VAL), "test": evaluate_part(model, exp.seqs, TEST)},
    }
    print(f"data: {meta['data']['name']}, split {'/'.join(str(n) for n in exp.split.sizes)}")
    print(metrics_table(metrics))
    return 0


def _cmd_recommend(args):
    import numpy as np

    from .recommender.evaluate import recommend
    from .recommender.pipeline import load_model

    model, exp, _ = load_model(args.model, cache_dir=args.cache_dir)
    seqs = exp.seqs
    where = np.flatnonzero(seqs.user_ids == args.user)
    if len(where) == 0:
        print(f"error: user {args.user} is not in the data (ids run from {seqs.user_ids.min()} to "
              f"{seqs.user_ids.max()})", file=sys.stderr)
        return 2
    items, scores = recommend(model, seqs, int(where[0]), top=args.top)
    titles = exp.ratings.titles
    n_rated = int(np.diff(seqs.offsets)[where[0]])
    print(f"Top {len(items)} unseen movies for user {args.user} (who rated {n_rated}):")
    for rank, (item, score) in enumerate(zip(items, scores), 1):
        raw = int(seqs.item_ids[item])
        print(f"{rank:3d}. {score:.2f}  {titles.get(raw, f'item {raw}')}")
    return 0


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="lstm-np", description="A from-scratch NumPy LSTM.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("gradcheck", help="check every analytic gradient against central differences")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test problems (default 0)")
    p.add_argument("--tol", type=float, default=1e-7, help="largest relative error accepted (default 1e-7)")
    p.set_defaults(func=_cmd_gradcheck)

    from .recommender.train import DATA_DEFAULTS, TrainConfig

    d = TrainConfig()
    syn = DATA_DEFAULTS["synthetic"]

    def default(name):
        return f"default {getattr(d, name)}" + (f"; {syn[name]} for synthetic" if name in syn else "")

    p = sub.add_parser("train", help="train the sequence recommender")
    p.add_argument("--data", choices=["movielens", "synthetic"], default="movielens",
                   help="MovieLens-100K (fetched and cached) or a small offline synthetic set")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm", help="recurrent layer (default lstm)")
    p.add_argument("--hidden-size", type=int, help=f"LSTM hidden units ({default('hidden_size')})")
    p.add_argument("--embed-dim", type=int, help=f"item embedding size ({default('embed_dim')})")
    p.add_argument("--epochs", type=int, help=f"most epochs ({default('epochs')})")
    p.add_argument("--patience", type=int, help=f"early-stopping patience ({default('patience')})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate ({default('lr')})")
    p.add_argument("--batch-size", type=int, help=f"users per batch ({default('batch_size')})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of everything random (default {d.seed})")
    p.add_argument("--data-seed", type=int, default=0,
                   help="seed of the synthetic data set (default 0; --seed leaves the data alone)")
    p.add_argument("--dtype", choices=["float32", "float64"], default=d.dtype, help=f"default {d.dtype}")
    p.add_argument("--out", help="output folder (default runs/DATA)")
    p.add_argument("--cache-dir", help="where MovieLens is cached (default $LSTM_NP_CACHE or ~/.cache/lstm_np)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar within epochs")
    p.set_defaults(func=_cmd_train)

    for name, helptext, func in (("evaluate", "reprint the metrics of a saved model", _cmd_evaluate),
                                 ("recommend", "list the unseen movies a saved model rates highest", _cmd_recommend)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("model", help="a model folder (with model.npz) or a model .npz/.json file")
        p.add_argument("--cache-dir", help="where MovieLens is cached")
        if name == "recommend":
            p.add_argument("--user", type=int, required=True, help="user id as in the data")
            p.add_argument("--top", type=_positive_int, default=10, help="how many movies (default 10)")
        p.set_defaults(func=func)
    return parser


#: What a training run writes into its folder (an existing folder holding only these may be replaced).
RUN_FILES = ("model.npz", "model.json", "metrics.json", "training.png")


def _check_out(out, replaceable=None):
    """Raise OSError (one clear line) unless ``out`` can be written; ``replaceable`` also checks its contents."""
    from .io import check_writable_dir

    check_writable_dir(out, name="--out", replaceable=replaceable, check_contents=replaceable is not None)


def _check_common(parser, args):
    """Checks shared by every subcommand, after parsing: seeds, tolerances, the output folder."""
    import math

    for name in ("seed", "data_seed"):
        value = getattr(args, name, None)
        if value is not None and value < 0:
            parser.error(f"--{name.replace('_', '-')} must be a non-negative integer; got {value}")
    tol = getattr(args, "tol", None)
    if tol is not None and not (math.isfinite(tol) and tol > 0):
        parser.error(f"--tol must be a finite number > 0; got {tol}")
    for name, value in vars(args).items():  # no option takes NaN or inf
        if isinstance(value, float) and not math.isfinite(value):
            parser.error(f"--{name.replace('_', '-')} must be a finite number; got {value}")


# Errors that mean bad input or a failing environment, not a bug: one line on stderr, exit status 2.
def _expected_errors():
    from .data import DataUnavailableError
    from .io import ModelFileError

    errors = [ModelFileError, DataUnavailableError, OSError, ValueError, FloatingPointError]
    try:
        from .recommender.train import TrainingError

        errors.append(TrainingError)
    except ImportError:
        pass
    return tuple(errors)


def main(argv=None):
    """Run ``lstm-np``; returns the exit status (0 ok, 1 gradcheck failed, 2 error).

    Expected errors (bad arguments, unreadable model or data files, an output
    folder that cannot be written, a full disk, training that diverged) are
    printed as one line ``error: ...`` with status 2; set ``LSTM_NP_TRACEBACK=1``
    to see the traceback instead.
    """
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    _check_common(parser, args)
    try:
        if getattr(args, "out", None) is not None:
            _check_out(args.out)
        return args.func(args)
    except _expected_errors() as e:
        if os.environ.get("LSTM_NP_TRACEBACK"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
