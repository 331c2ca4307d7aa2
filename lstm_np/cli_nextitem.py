"""The next-item parts of the ``lstm-np`` command: train --task next-item, recommend (with --explain), evaluate
(with --faithfulness). ``cli.py`` parses the arguments and calls these.
"""

from __future__ import annotations

__all__ = ["train_next_item", "evaluate_next_item", "faithfulness_table", "recommend_next_item"]


def train_next_item(args):
    from .recommender.nextitem import NextItemConfig
    from .recommender.nextitem_pipeline import RUN_FILES, run_next_item

    for name in ("window", "cuts"):
        if getattr(args, name) is not None:
            raise ValueError(f"--{name} is an option of the rating task (--task rating)")
    if args.base != "mf":
        raise ValueError("--base is an option of the rating task (--task rating)")
    if args.seed is not None and args.seeds is not None:
        raise ValueError("give --seed or --seeds, not both")
    given = {k: getattr(args, k) for k in ("cell", "embed_dim", "hidden_size", "dropout", "epochs", "patience", "lr",
                                            "batch_size", "dtype", "attention")}
    settings = {k: v for k, v in given.items() if v is not None}
    if args.attention_window is not None:
        if settings.get("attention", "none") == "none":
            raise ValueError("--attention-window needs --attention dot or additive")
        settings["window"] = args.attention_window
    if args.tied is not None:
        settings["tied"] = args.tied
    if settings.get("tied", NextItemConfig().tied):  # tied needs E = H: one size given sets both
        if "hidden_size" in settings and "embed_dim" not in settings:
            settings["embed_dim"] = settings["hidden_size"]
        elif "embed_dim" in settings and "hidden_size" not in settings:
            settings["hidden_size"] = settings["embed_dim"]
    if args.quick:  # the quick sizes and epochs, under any option given
        from .recommender.nextitem_pipeline import QUICK

        settings = {**QUICK["config"], **settings}
    config = NextItemConfig(**settings)  # ValueError (one line, status 2) for a bad setting
    seeds = args.seeds if args.seeds is not None else [args.seed if args.seed is not None else 0]
    out = args.out or ("runs/next-item" if args.data == "movielens" else f"runs/next-item-{args.data}")
    from .io import check_writable_dir

    check_writable_dir(out, name="--out", replaceable=RUN_FILES, check_contents=True)  # before any training
    run_next_item(args.data, config, out, seeds=seeds, tie_break=args.tie_break or "item", quick=args.quick,
                  cache_dir=args.cache_dir, data_seed=args.data_seed, workers=args.workers or 1,
                  models=args.models, temporal=not args.no_temporal, progress=not args.no_progress)
    print(f"wrote {out}/model.npz, {out}/model.json, {out}/metrics.json, {out}/training.png")
    return 0


def evaluate_next_item(model, args):
    """``lstm-np evaluate`` of a next-item model: score it on test again from the data set."""
    from .recommender.nextitem_model import rescore

    again = rescore(model, cache_dir=args.cache_dir)
    name = "lstm" if model.net.config.attention == "none" else "lstm_attention"
    saved = model.meta.get("metrics", {}).get("test_HR@10", {}).get(name)
    print(f"data: {model.data['name']}, leave-one-out (ties by {model.data['tie_break']}); "
          f"{_describe(model.net)}, as saved, scored on test again")
    print(f"{'setting':<22} {'HR@5':>7} {'HR@10':>7} {'HR@20':>7} {'NDCG@10':>8} {'MRR@10':>7}")
    for setting, m in again.items():
        label = "seen items removed" if setting == "removed" else "seen items kept"
        print(f"{label:<22} {m['HR@5']:>7.4f} {m['HR@10']:>7.4f} {m['HR@20']:>7.4f} {m['NDCG@10']:>8.4f} "
              f"{m['MRR@10']:>7.4f}")
    if saved is not None and abs(saved - again["removed"]["HR@10"]) > 1e-12:
        print(f"note: train measured test HR@10 {saved:.4f} for this model; the loaded files give "
              f"{again['removed']['HR@10']:.4f}")
    return 0


def faithfulness_table(model, args):
    from tqdm import tqdm

    from .recommender.explain import faithfulness, format_faithfulness

    if args.json:  # before the computation: a path that cannot be written costs nothing
        import os
        from pathlib import Path

        target = Path(args.json)
        folder = target.parent
        if target.is_dir():
            raise IsADirectoryError(f"--json {args.json} is a folder; give a file name")
        if not folder.is_dir():
            raise NotADirectoryError(f"--json {args.json}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"--json {args.json}: the folder {folder} cannot be written")
    histories = [model.items[model.offsets[k] : model.offsets[k + 1]] for k in range(len(model.user_ids))]
    result = faithfulness(model.net, histories, depth=args.depth, draws=args.draws, seed=args.seed,
                          progress=None if args.no_progress else (lambda it: tqdm(it, desc="users", unit="batch")))
    print(f"Faithfulness of the explanations of {_describe(model.net)}: for each of {result['users']} users, r = "
          f"the top unseen movie; deleting k of the last {result['depth']} history movies, chosen by each method. "
          "Mean fall of log p(r) ± its standard error over users, and the share of users for whom r leaves the "
          "top 10.")
    print(format_faithfulness(result))
    if args.json:
        import json

        from .io import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(result, indent=2).encode())
        print(f"wrote {args.json}")
    return 0


def _describe(net):
    cfg = net.config
    return f"the {cfg.cell.upper()} next-item model" + ("" if cfg.attention == "none" else
                                                       f" with {cfg.attention} attention (window {cfg.window})")


def _explain_lines(model, args, recs):
    """For each recommended movie, the history movies that support it most, by each method asked for."""
    from .recommender.explain import explain

    has_attention = hasattr(model.net, "attention_weights")
    methods = {"both": ["influence", "attention"], "influence": ["influence"],
               "attention": ["attention"]}[args.explain_method or ("both" if has_attention else "influence")]
    if "attention" in methods and not has_attention:
        raise ValueError("--explain-method attention needs a model with attention (lstm-np train --task next-item "
                         "--attention additive); this one has none: use --explain-method influence")
    hist = model.items[model.offsets[model._user_index(args.user)] : model.offsets[model._user_index(args.user) + 1]]
    items = model.item_index([r[0] for r in recs])
    found = {m: explain(model.net, hist, items, m, depth=args.depth, top=3) for m in methods}
    lines = ["", "Why? For each movie, the movies of the history that support it most, among the last "
             f"{min(args.depth, len(hist))} of the {len(hist)}:"]
    say = {"influence": "leave-one-out: how far the movie's log-probability falls without it",
           "attention": "attention: the weight the last state gives it (the same for every recommendation)"}
    for m in methods:
        lines.append(f"  [{m}] {say[m]}")
    for rank, (rec, k) in enumerate(zip(recs, range(len(recs))), 1):
        lines.append(f"{rank:3d}. {rec[1]}")
        for m in methods:
            parts = [f"{model.title(model.item_ids[hist[j]])[:40]} ({'%+.3f' % v if m == 'influence' else '%.2f' % v})"
                     for j, v in found[m][k]]
            lines.append(f"       {m:<9} " + "; ".join(parts))
    return lines


def recommend_next_item(model, args):
    recs = model.recommend(user=args.user, top=args.top)
    popular = model.popular(user=args.user, top=args.top)
    n_known = len(model.history(args.user))
    hr = model.meta.get("metrics", {}).get("test_HR@10", {})
    cell = model.net.config.cell.upper()

    def measured(name):
        return f"test HR@10 {hr[name]:.3f}" if name in hr else "not measured"

    print(f"User {args.user} (history of {n_known} movies known to the model). What to watch next:")
    name = "lstm" if model.net.config.attention == "none" else "lstm_attention"
    left = (f"{cell} next-item model" if name == "lstm" else f"{cell} + {model.net.config.attention} attention") \
        + f" ({measured(name)})"
    right = f"most popular unseen movies ({measured('popularity')})"
    width = max(len(left), 46)
    print(f"     {left:<{width}}  {right}")
    for rank, ((_, title, p), (_, ptitle, count)) in enumerate(zip(recs, popular), 1):
        a = f"{title[:width - 8]} ({100 * p:.1f}%)"
        print(f"{rank:3d}. {a:<{width}}  {ptitle[:46]} ({count})")
    print("(percent: the model's probability that this is the next movie; count: times watched in the histories "
          "the model was refitted on; HR@10: share of users whose next movie, held out, is in the top 10)")
    if args.explain:
        print("\n".join(_explain_lines(model, args, recs)))
    return 0
