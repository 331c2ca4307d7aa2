"""The ``lstm-np`` command (also ``python -m lstm_np``).

    lstm-np gradcheck                      check every gradient, print the table
    lstm-np train [--data synthetic] ...   train the recommender, write model + metrics + plot
    lstm-np evaluate MODEL                 reprint the metrics of a saved model
    lstm-np recommend MODEL --user ID      the unseen movies it rates highest
    lstm-np textgen [--text FILE] ...      a character-level language model: bits per character, samples
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


def _cmd_textgen(args):
    # Options arrive as strings and are checked here, so that every bad value
    # is one line on stderr and exit status 2 (argparse would add its usage).
    from .charlm import QUICK, CharLMConfig, file_corpus, train_char_model
    from .sequence.stack import CELLS

    options = (("steps", "--steps", int), ("hidden_size", "--hidden", int), ("num_layers", "--layers", int),
               ("seed", "--seed", int), ("temperature", "--temperature", float), ("dropout", "--dropout", float),
               ("lr", "--lr", float), ("batch_size", "--batch-size", int), ("seq_len", "--seq-len", int),
               ("max_chars", "--max-chars", int), ("sample_every", "--sample-every", int))
    base = CharLMConfig(**(QUICK if args.quick else {}))
    settings = {}
    try:
        if args.cell not in CELLS:
            raise ValueError(f"--cell must be one of {', '.join(sorted(CELLS))}; got {args.cell!r}")
        for name, option, kind in options:
            text = getattr(args, name)
            if text is not None:
                try:
                    settings[name] = kind(text)
                except ValueError:
                    what = "an integer" if kind is int else "a number"
                    raise ValueError(f"{option} must be {what}; got {text!r}") from None
        if "steps" in settings and "sample_every" not in settings:  # samples and evaluations ~4 times a run
            settings["sample_every"] = max(1, settings["steps"] // 4)
        settings["eval_every"] = settings.get("sample_every", base.eval_every)
        if "lr" in settings:
            settings["lr_final"] = min(base.lr_final, settings["lr"])
        corpus = None if args.text is None else file_corpus(args.text, settings.get("max_chars", base.max_chars))
        result = train_char_model(args.cell, corpus, config=base, progress=not args.no_progress, log=print,
                                  **settings)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:  # NaN or inf in the gradients: say so in one line, never go on silently
        print(f"error: training diverged ({e}); try a smaller --lr", file=sys.stderr)
        return 1
    print(result.summary())
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

    p = sub.add_parser("textgen", help="train a character-level language model; report bits per character "
                                        "against a bigram model and print samples")
    p.add_argument("--text", metavar="FILE",
                   help="a UTF-8 text file (default: the Python standard library's source)")
    for flag, dest, helptext in (
        ("--steps", "steps", "training steps (default 3000; 30 with --quick)"),
        ("--hidden", "hidden_size", "hidden units per layer (default 256; 32 with --quick)"),
        ("--layers", "num_layers", "stacked recurrent layers (default 1)"),
        ("--cell", "cell", "lstm, gru or rnn (default lstm)"),
        ("--dropout", "dropout", "dropout between stacked layers (default 0)"),
        ("--lr", "lr", "Adam learning rate at the start (default 6e-3, cosine decay to 3e-4)"),
        ("--batch-size", "batch_size", "parallel streams of text (default 16)"),
        ("--seq-len", "seq_len", "characters per truncated-BPTT chunk (default 64)"),
        ("--max-chars", "max_chars", "characters read (default 1,000,000)"),
        ("--seed", "seed", "seed of the weights, dropout and samples (default 0)"),
        ("--temperature", "temperature", "sampling temperature (default 0.8)"),
        ("--sample-every", "sample_every", "steps between samples and evaluations (default 500)"),
    ):
        p.add_argument(flag, dest=dest, metavar=flag[2:].upper().replace("-", "_"), help=helptext,
                       default="lstm" if dest == "cell" else None)
    p.add_argument("--quick", action="store_true", help="a small model on 20,000 characters: a few seconds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_textgen)

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


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .data import DataUnavailableError
    from .io import ModelFileError
    from .recommender.train import TrainingError

    try:
        return args.func(args)
    except (ModelFileError, TrainingError, DataUnavailableError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
