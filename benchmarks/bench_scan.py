#!/usr/bin/env python
"""The parallel scan of minLSTM/minGRU against their step loop and against the LSTM layer, T = 64 ... 4096.

Not part of the test suite. Run from the repository root:

    python benchmarks/bench_scan.py [--quick] [--lengths 64,256,1024,4096] [--clock cpu|wall]
                                    [--out benchmarks/scan_results.json]

What is timed, for each length T and each size (B, D, H) in ``SIZES`` (float64, one BLAS thread):

  minlstm scan / loop   lstm_np.sequence.MinLSTM, method="scan" (log space) or "loop"
  mingru scan / loop    lstm_np.sequence.MinGRU, likewise
  slstm                 lstm_np.sequence.SLSTM (a recurrent GEMM per step: no scan possible)
  lstm                  lstm_np.sequence.LSTM, the fast layer

each as the forward alone and as forward + backward. Method: every contender
runs in the same process, interleaved (A, B, C, A, B, C, ...) after a warm-up
call, so that a slow moment of a shared machine hits all of them alike; the
table gives the median over the rounds and the ratios of medians, all from
this one run. ``--clock cpu`` (the default) times the process's CPU time,
steadier than wall time on a machine shared with other jobs (valid because
everything runs on one thread).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from lstm_np.sequence import LSTM, SLSTM, MinGRU, MinLSTM  # noqa: E402

#: name: (B, D, H). "batch" is a training batch; "one sequence" a single short-state sequence, where the
#: loop's fixed cost per step (a few microseconds of Python and NumPy overhead) is all there is to save.
SIZES = {"batch": (32, 32, 64), "one sequence": (1, 8, 16)}
LENGTHS = (64, 256, 1024, 4096)
CONTENDERS = ("minlstm scan", "minlstm loop", "mingru scan", "mingru loop", "slstm", "lstm")


def _layers(rng, D, H):
    return {
        "minlstm scan": (MinLSTM(D, H, rng=rng, method="scan"), {}),
        "minlstm loop": (MinLSTM(D, H, rng=rng, method="loop"), {}),
        "mingru scan": (MinGRU(D, H, rng=rng, method="scan"), {}),
        "mingru loop": (MinGRU(D, H, rng=rng, method="loop"), {}),
        "slstm": (SLSTM(D, H, rng=rng), {}),
        "lstm": (LSTM(D, H, rng=rng), {}),
    }


def _call(layer, x, backward):
    out, _, cache = layer.forward(x)
    if backward:
        layer.backward(np.ones_like(out), cache)


def measure(lengths=LENGTHS, rounds=5, clock="cpu", seed=0, sizes=None, log=print):
    """Median seconds per call of every contender at every length and size.

    Returns
    -------
    dict
        ``{size: {"forward": {T: {name: s}}, "forward+backward": {T: {name: s}}, "B": .., "D": .., "H": ..},
        "settings": {...}}``.
    """
    out = {}
    for size in (sizes or SIZES):
        B, D, H = SIZES[size]
        log(f"{size}: B = {B}, D = {D}, H = {H}")
        out[size] = dict(_measure_size(B, D, H, lengths, rounds, clock, seed, log), B=B, D=D, H=H)
    out["settings"] = {"dtype": "float64", "rounds": rounds, "clock": clock,
                       "lengths": list(lengths), "numpy": np.__version__, "python": platform.python_version(),
                       "machine": platform.machine(), "processor": platform.processor() or "",
                       "cpus": os.cpu_count(), "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                       "date": time.strftime("%Y-%m-%d")}
    return out


def _measure_size(B, D, H, lengths, rounds, clock, seed, log):
    timer = time.process_time if clock == "cpu" else time.perf_counter
    rng = np.random.default_rng(seed)
    layers = _layers(rng, D, H)
    results = {"forward": {}, "forward+backward": {}}
    for T in lengths:
        x = rng.standard_normal((B, T, D))
        for kind, backward in (("forward", False), ("forward+backward", True)):
            times = {name: [] for name in layers}
            for name, (layer, _) in layers.items():  # warm-up
                _call(layer, x, backward)
            reps = max(1, int(4096 // T)) if rounds > 1 else 1  # each sample at least ~4096 steps
            for _ in range(rounds):
                for name, (layer, _) in layers.items():
                    t0 = timer()
                    for _ in range(reps):
                        _call(layer, x, backward)
                    times[name].append((timer() - t0) / reps)
            results[kind][str(T)] = {name: float(np.median(v)) for name, v in times.items()}
            row = "  ".join(f"{n} {1e3 * s:8.2f}" for n, s in results[kind][str(T)].items())
            log(f"T={T:5d} {kind:17s} ms: {row}")
    return results


def format_table(results):
    """Markdown: ms per call and the ratios that matter, for each size and length."""
    lines = []
    for size, res in results.items():
        if size != "settings":
            lines += _format_size(size, res)
    s = results["settings"]
    lines.append(f"{s['dtype']}, {s['clock']} time, median of {s['rounds']} interleaved rounds, NumPy {s['numpy']}, "
                 f"{s['cpus']} CPUs, OPENBLAS_NUM_THREADS={s['OPENBLAS_NUM_THREADS']}, {s['date']}.")
    return "\n".join(lines)


def _format_size(size, results):
    lines = []
    for kind in ("forward", "forward+backward"):
        lines += [f"**{size}** (B = {results['B']}, D = {results['D']}, H = {results['H']}), **{kind}**: "
                  "ms per call; ratios of medians from the same run", "",
                  "| T | minLSTM scan | minLSTM loop | loop / scan | minGRU scan | minGRU loop | loop / scan "
                  "| sLSTM | LSTM | LSTM / minLSTM (faster method) |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for T, r in results[kind].items():
            best = min(r["minlstm scan"], r["minlstm loop"])
            lines.append(
                f"| {T} | {1e3 * r['minlstm scan']:.2f} | {1e3 * r['minlstm loop']:.2f} "
                f"| {r['minlstm loop'] / r['minlstm scan']:.2f} | {1e3 * r['mingru scan']:.2f} "
                f"| {1e3 * r['mingru loop']:.2f} | {r['mingru loop'] / r['mingru scan']:.2f} "
                f"| {1e3 * r['slstm']:.2f} | {1e3 * r['lstm']:.2f} | {r['lstm'] / best:.1f} |")
        lines.append("")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one round, T = 64 and 256 only")
    ap.add_argument("--lengths", default=None, help="comma-separated T values (default 64,256,1024,4096)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--out", default=None, help="write the results as JSON (and the table beside it as .md)")
    args = ap.parse_args(argv)
    lengths = tuple(int(t) for t in args.lengths.split(",")) if args.lengths else ((64, 256) if args.quick else LENGTHS)
    results = measure(lengths, rounds=1 if args.quick else args.rounds, clock=args.clock)
    table = format_table(results)
    print(table)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")
        out.with_suffix(".md").write_text(table + "\n")
    return results


if __name__ == "__main__":
    main()
