"""The ``lstm-np`` command (also ``python -m lstm_np``).

    lstm-np gradcheck                      check every gradient, print the table
    lstm-np train --task next-item ...     next-item recommendation: leave-one-out, full ranking, every baseline + the LSTM
    lstm-np train [--data synthetic] ...   rating prediction: the protocol (baselines, MF, sequence model), model + metrics
    lstm-np evaluate MODEL                 reprint the metrics of a saved model
    lstm-np recommend MODEL --user ID      what the model recommends (next-item model: most likely next; rating
                                           model: highest predicted rating)
    lstm-np textgen [--text FILE] ...      a character-level language model: bits per character, samples
    lstm-np compare [--quick] ...          RNN vs GRU vs LSTM: adding problem, gradient flow, cost (studies.comparison)
    lstm-np lab [--quick] ...              the laboratory of cell variants (studies.laboratory)
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
    if args.task == "next-item":
        from .cli_nextitem import train_next_item

        return train_next_item(args)
    from .recommender.hybrid import SequenceConfig
    from .recommender.pipeline import RUN_FILES, run

    for name in ("embed_dim", "dropout", "tie_break", "workers", "attention", "attention_window", "models"):
        if getattr(args, name) is not None:
            raise ValueError(f"--{name.replace('_', '-')} is an option of --task next-item")
    if args.tied is not None or args.quick or args.seeds is not None or args.no_temporal:
        raise ValueError("--tied/--no-tied, --quick, --seeds and --no-temporal are options of --task next-item")
    if args.cell is not None and args.cell not in ("lstm", "gru", "rnn"):
        raise ValueError(f"--cell {args.cell}: the rating task's correction net takes lstm, gru or rnn "
                         "(the cell variants work with --task next-item)")
    given = {k: getattr(args, k) for k in ("cell", "hidden_size", "window", "cuts", "epochs", "patience", "lr",
                                            "batch_size", "seed", "dtype")}
    try:
        config = SequenceConfig(**{k: v for k, v in given.items() if v is not None})
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or f"runs/{args.data}"
    _check_out(out, replaceable=RUN_FILES)  # before any training: a bad --out costs nothing
    run(args.data, config, out, base=args.base, cache_dir=args.cache_dir, data_seed=args.data_seed,
        progress=not args.no_progress)
    print(f"wrote {out}/model.npz, {out}/model.json, {out}/metrics.json, {out}/training.png")
    return 0


def _cmd_evaluate(args):
    from .cli_nextitem import evaluate_next_item, faithfulness_table
    from .io import ModelFileError
    from .recommender.nextitem_model import MODEL_KIND, NextItemRecommender, model_kind
    from .recommender.pipeline import load_model, metrics_table
    from .recommender.protocol import scores

    if args.faithfulness and model_kind(args.model) != MODEL_KIND:
        raise ValueError("--faithfulness measures the explanations of a next-item model (lstm-np train --task "
                         f"next-item); {args.model} is a rating model")
    if args.faithfulness:
        return faithfulness_table(NextItemRecommender.load(args.model), args)
    if model_kind(args.model) == MODEL_KIND:
        return evaluate_next_item(NextItemRecommender.load(args.model), args)

    model, (ratings, h), meta = load_model(args.model, cache_dir=args.cache_dir)
    if "metrics" not in meta:
        raise ModelFileError(f"{args.model}: holds no metrics (field meta.metrics); evaluate reprints what "
                             "train measured")
    rows = meta["metrics"]["rows"]
    saved = rows["sequence"]["test"]["rmse"]
    _, pred, target = model.predict_test(h)  # the loaded model, scored again
    rows["sequence"]["test"] = scores(pred, target)
    print(f"data: {meta['data']['name']}; the sequence model's test row is recomputed from the saved files, "
          "the others are as measured by train")
    if abs(rows["sequence"]["test"]["rmse"] - saved) > 1e-9:
        print(f"note: train measured test RMSE {saved:.4f} for this model; the loaded files give "
              f"{rows['sequence']['test']['rmse']:.4f}")
    print(metrics_table(rows))
    return 0


def _cmd_recommend(args):
    from .cli_nextitem import recommend_next_item
    import numpy as np

    from .recommender.nextitem_model import MODEL_KIND, NextItemRecommender, model_kind

    if model_kind(args.model) == MODEL_KIND:
        return recommend_next_item(NextItemRecommender.load(args.model), args)
    if args.explain or args.explain_method:
        raise ValueError("--explain explains a next-item model's list (lstm-np train --task next-item); "
                         f"{args.model} is a rating model")
    from .recommender.pipeline import load_model

    model, (ratings, h), _ = load_model(args.model, cache_dir=args.cache_dir)
    where = np.flatnonzero(h.user_ids == args.user)
    if len(where) == 0:
        print(f"error: user {args.user} is not in the data (ids run from {h.user_ids.min()} to "
              f"{h.user_ids.max()})", file=sys.stderr)
        return 2
    items, scores = model.recommend(h, int(where[0]), top=args.top)
    n_rated = int(np.diff(h.offsets)[where[0]])
    print(f"Top {len(items)} unseen movies for user {args.user} (who rated {n_rated}), from the rating model "
          f"({model.config.cell.upper()} + {model.base_kind} base), ranked by predicted rating. This answers "
          "'what would they rate highest?', not 'what will they watch next?': a next-item model "
          "(lstm-np train --task next-item) ranks for that.")
    for rank, (item, score) in enumerate(zip(items, scores), 1):
        raw = int(h.item_ids[item])
        print(f"{rank:3d}. {score:.2f}  {ratings.titles.get(raw, f'item {raw}')}")
    return 0


def _cmd_textgen(args):
    from .charlm import QUICK, CharLMConfig, file_corpus, train_char_model

    base = CharLMConfig(**(QUICK if args.quick else {}))
    names = ("steps", "hidden_size", "num_layers", "seed", "temperature", "dropout", "lr", "batch_size", "seq_len",
             "max_chars", "sample_every")
    settings = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if "steps" in settings and "sample_every" not in settings:  # samples and evaluations ~4 times a run
        settings["sample_every"] = max(1, settings["steps"] // 4)
    settings["eval_every"] = settings.get("sample_every", base.eval_every)
    if "lr" in settings:
        settings["lr_final"] = min(base.lr_final, settings["lr"])
    # Out-of-range values raise ValueError before anything runs: main prints one line, exit status 2.
    corpus = None if args.text is None else file_corpus(args.text, settings.get("max_chars", base.max_chars))
    result = train_char_model(args.cell, corpus, config=base, progress=not args.no_progress, log=print, **settings)
    print(result.summary())
    return 0


def _cmd_compare(args):
    from . import studies

    out = args.out or "runs/experiments"
    _check_out(out)  # before any training: a bad --out costs nothing
    results = studies.run(out, quick=args.quick, verbose=not args.no_progress, workers=args.workers)
    print(studies.format_results(results))
    print(f"wrote {out}/results.md, results.json, adding.png, gradient_flow.png")
    return 0


def _cmd_lab(args):
    from . import studies

    out = args.out or "runs/lab"
    _check_out(out)
    results = studies.run_lab(out, quick=args.quick, verbose=not args.no_progress, workers=args.workers)
    print(studies.format_lab(results))
    print(f"wrote {out}/lab.md, lab.json, lab.png")
    return 0


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(prog="lstm-np", description="A from-scratch NumPy LSTM.")
    parser.add_argument("--version", action="version", version=f"lstm-np {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("gradcheck", help="check every analytic gradient against central differences")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test problems (default 0)")
    p.add_argument("--tol", type=float, default=1e-7, help="largest relative error accepted (default 1e-7)")
    p.set_defaults(func=_cmd_gradcheck)

    from .recommender.hybrid import SequenceConfig

    d = SequenceConfig()
    from .recommender.nextitem_config import NEXT_ITEM_CELLS, NextItemConfig, _variant_names

    n = NextItemConfig()
    p = sub.add_parser("train", help="train and measure a recommender: --task next-item (what will the user watch "
                                     "next?) or rating (what would they rate it?)")
    p.add_argument("--task", choices=["rating", "next-item"], default="rating",
                   help="rating: predict ratings (RMSE; the default); next-item: rank every movie as the next one "
                        "(HR/NDCG/MRR, leave-one-out, every baseline)")
    p.add_argument("--data", choices=["movielens", "synthetic"], default="movielens",
                   help="MovieLens-100K (fetched and cached) or a small offline synthetic set")
    p.add_argument("--cell", choices=sorted(NEXT_ITEM_CELLS) + sorted(_variant_names()),
                   help="recurrent layer (default lstm); the rating task takes lstm, gru or rnn, next-item also "
                        "the 2024 cells (slstm, minlstm, mingru) and any cell variant")
    p.add_argument("--base", choices=["mf", "bias", "mean"], default="mf",
                   help="rating task: what the recurrent layer corrects: matrix factorisation, the bias model or "
                        "the global mean (default mf)")
    p.add_argument("--hidden-size", type=int, help=f"hidden units (default {d.hidden_size}; next-item {n.hidden_size})")
    p.add_argument("--embed-dim", type=int, help=f"next-item: item embedding size (default {n.embed_dim})")
    p.add_argument("--dropout", type=float, help=f"next-item: dropout (default {n.dropout})")
    p.add_argument("--tied", action=argparse.BooleanOptionalAction, default=None,
                   help=f"next-item: the output layer is the embedding table (default {'tied' if n.tied else 'not'}; "
                        "tied needs embed dim = hidden size, and one of them given sets both)")
    p.add_argument("--window", type=int, help=f"rating task: most ratings read before a cut (default {d.window})")
    p.add_argument("--attention", choices=["none", "dot", "additive"],
                   help="next-item: also fit the NARM-style model whose scores see the last state and an "
                        "attention-weighted summary of the recent states (dot: q.k/sqrt(H); additive: NARM's); "
                        "its model is the one saved, the plain one is beside it in the table (default none)")
    p.add_argument("--models", nargs="+", metavar="NAME",
                   help="next-item: run only these of popularity, itemknn, transition, bprmf, ease, lstm and (with "
                        "--attention) lstm_attention; at least one recurrent model (default: all)")
    p.add_argument("--no-temporal", action="store_true",
                   help="next-item: leave out the temporal split's top-10 lists (they double the run's time)")
    p.add_argument("--attention-window", type=_positive_int,
                   help=f"next-item: states the attention sees, the last one included (default {n.window})")
    p.add_argument("--cuts", type=int, help=f"rating task: training cuts per phase (default {d.cuts})")
    p.add_argument("--epochs", type=int,
                   help=f"most epochs while choosing on validation (default {d.epochs}; next-item {n.epochs})")
    p.add_argument("--patience", type=int,
                   help=f"early-stopping patience while choosing (default {d.patience}; next-item {n.patience})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default {d.lr:g}; next-item {n.lr:g})")
    p.add_argument("--batch-size", type=int,
                   help=f"sequences per batch (default {d.batch_size}; next-item {n.batch_size})")
    p.add_argument("--seed", type=int, help=f"seed of everything random, MF included (default {d.seed})")
    p.add_argument("--seeds", type=int, nargs="+", metavar="S",
                   help="next-item: run these seeds and report mean and spread (the first seed's model is saved)")
    p.add_argument("--workers", type=int, help="next-item: seeds run in this many processes (default 1)")
    p.add_argument("--tie-break", choices=["item", "random"],
                   help="next-item: order of equal timestamps (default item: by item id; random: seeded)")
    p.add_argument("--quick", action="store_true", help="next-item: small grids and 3 epochs (seconds; for CI)")
    p.add_argument("--data-seed", type=int, default=0,
                   help="seed of the synthetic data set (default 0; --seed leaves the data alone)")
    p.add_argument("--dtype", choices=["float32", "float64"], help=f"default {d.dtype}")
    p.add_argument("--out", help="output folder (default runs/DATA; next-item: runs/next-item)")
    p.add_argument("--cache-dir", help="where MovieLens is cached (default $LSTM_NP_CACHE or ~/.cache/lstm_np)")
    p.add_argument("--no-progress", action="store_true",
                   help="leave out the line per epoch (the summary lines and the table are still printed)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("textgen", help="train a character-level language model; report bits per character "
                                        "against a bigram model and print samples")
    p.add_argument("--text", metavar="FILE",
                   help="a UTF-8 text file (default: the Python standard library's source)")
    p.add_argument("--steps", type=int, help="training steps (default 3000; 30 with --quick)")
    p.add_argument("--hidden", dest="hidden_size", type=int,
                   help="hidden units per layer (default 256; 32 with --quick)")
    p.add_argument("--layers", dest="num_layers", type=int, help="stacked recurrent layers (default 1)")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm", help="default lstm")
    p.add_argument("--dropout", type=float, help="dropout between stacked layers (default 0)")
    p.add_argument("--lr", type=float, help="Adam learning rate at the start (default 6e-3, cosine decay to 3e-4)")
    p.add_argument("--batch-size", type=int, help="parallel streams of text (default 16)")
    p.add_argument("--seq-len", type=int, help="characters per truncated-BPTT chunk (default 64)")
    p.add_argument("--max-chars", type=int, help="characters read (default 1,000,000)")
    p.add_argument("--seed", type=int, help="seed of the weights, dropout and samples (default 0)")
    p.add_argument("--temperature", type=float, help="sampling temperature (default 0.8)")
    p.add_argument("--sample-every", type=int, help="steps between samples and evaluations (default 500)")
    p.add_argument("--quick", action="store_true", help="a small model on 20,000 characters: a few seconds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_textgen)

    for name, helptext, func, folder in (
            ("compare", "the RNN, the GRU and the LSTM on the adding problem: test MSE, gradient flow, time per "
                        "step (the README's tables; about 3 minutes)", _cmd_compare, "runs/experiments"),
            ("lab", "the laboratory: every variant of the LSTM cell on the adding problem, the character model "
                    "and the recommender (about 13 minutes in one process)", _cmd_lab, "runs/lab")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--quick", action="store_true", default=None,
                       help="the small setting: seconds (also with LSTM_NP_QUICK=1)")
        p.add_argument("--out", help=f"output folder (default {folder})")
        p.add_argument("--workers", type=int,
                       help="training runs in this many processes (default 1 with --quick, else the CPUs, at most 4)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(func=func)

    for name, helptext, func in (("evaluate", "reprint the metrics of a saved model", _cmd_evaluate),
                                 ("recommend", "list what a saved model recommends for a user", _cmd_recommend)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("model", help="a model folder (with model.npz) or a model .npz/.json file")
        p.add_argument("--cache-dir", help="where MovieLens is cached")
        if name == "recommend":
            p.add_argument("--user", type=int, required=True, help="user id as in the data")
            p.add_argument("--top", type=_positive_int, default=10, help="how many movies (default 10)")
            p.add_argument("--explain", action="store_true",
                           help="next-item model: for each movie, the 3 movies of the history that support it most")
            p.add_argument("--explain-method", choices=["influence", "attention", "both"],
                           help="influence: leave-one-out (any model); attention: the attention weights (models "
                                "with attention); default both where there is attention, else influence")
        else:
            p.add_argument("--faithfulness", action="store_true",
                           help="next-item model: delete the history movies each explanation method ranks most "
                                "important, against random and most recent ones; print the table")
            p.add_argument("--draws", type=_positive_int, default=5,
                           help="--faithfulness: random deletions per user and k (default 5)")
            p.add_argument("--seed", type=int, default=0, help="--faithfulness: seed of the random deletions")
            p.add_argument("--json", help="--faithfulness: also write the result to this JSON file")
            p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--depth", type=_positive_int, default=20,
                       help="--explain/--faithfulness: consider the last DEPTH movies of a history (default 20)")
        p.set_defaults(func=func)
    return parser


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
    for value in getattr(args, "seeds", None) or []:
        if value < 0:
            parser.error(f"--seeds must be non-negative integers; got {value}")
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        parser.error(f"--workers must be a positive integer; got {workers}")
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
        from .recommender.hybrid import TrainingError

        from .recommender.nextitem import TrainingError as NextItemTrainingError

        errors += [TrainingError, NextItemTrainingError]
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
    if args.command is None:  # plain `lstm-np`: say what there is
        parser.print_help()
        return 0
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
