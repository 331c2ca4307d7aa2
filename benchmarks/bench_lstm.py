#!/usr/bin/env python
"""Benchmark lstm_np's LSTM against a tutorial-style NumPy LSTM and PyTorch's nn.LSTM.

Not part of the test suite. Run from the repository root (see benchmarks/README.md):

    python benchmarks/bench_lstm.py [--quick] [--configs tiny,S,L] [--threads 1,2]
                                    [--dtypes float32,float64] [--out benchmarks/results.md]

Method: all contenders run in one process, interleaved (A, B, C, A, B, C, ...)
after a warm-up, so that a slow moment of the machine hits all of them alike;
each sample times enough calls to last a few tens of milliseconds; the tables
give medians over the rounds, and ratios of medians. BLAS threads (NumPy) and
intra-op threads (PyTorch) are pinned to the same count and printed.

Contenders
  lstm_np   lstm_np.sequence.lstm.LSTM
  reuse     the same, called as forward(x, reuse=cache): each call writes its cache
            into the arrays of the previous call's, instead of allocating new ones
  tutorial  benchmarks/tutorial_lstm.py: per-gate weights, per-step [h, x]
            concatenation, one matrix product per gate and step
  torch     torch.nn.LSTM(batch_first=True), when torch is importable
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - a benchmark-only dependency
    sys.exit("bench_lstm.py needs threadpoolctl: pip install -e '.[bench]' (or pip install threadpoolctl)")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tutorial_lstm import TutorialLSTM  # noqa: E402

from lstm_np.sequence.lstm import LSTM, _chunk_steps  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

#: name: (B, T, D, H)
CONFIGS = {"tiny": (1, 20, 10, 32), "S": (64, 50, 64, 128), "L": (256, 100, 256, 512)}

#: The ratios to PyTorch recorded on 2026-11-28 (1 thread, float32, forward+backward),
#: printed beside a fresh run's in the summary so that a change can be compared with them.
RECORDED_ON = "2026-11-28"
RECORDED_RATIO = {"tiny": {"lstm_np": 1.03, "reuse": 1.07},
                  "S": {"lstm_np": 1.38, "reuse": 1.36},
                  "L": {"lstm_np": 0.88, "reuse": 0.83}}


# --------------------------------------------------------------------------- machine


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_description():
    """NumPy's BLAS: the build (numpy.show_config) and, at run time, the library,
    the kernel it selected for this CPU and its threading (threadpoolctl)."""
    try:
        b = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        built = f"built with {b.get('name')} {b.get('version')}"
    except Exception:  # older NumPy: no dict mode
        built = "build info unavailable"
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the library is loaded
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
    infos = infos or [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not infos:
        return f"{built}; threadpoolctl found no BLAS"
    i = infos[0]
    return (
        f"{built}; running {i.get('internal_api')} {i.get('version')} "
        f"(kernel: {i.get('architecture', '?')}, threading: {i.get('threading_layer', '?')})"
    )


def torch_description():
    if torch is None:
        return "not installed (torch columns skipped)"
    cfg = torch.__config__.show()
    parts = [torch.__version__]
    if "Math Kernel Library" in cfg:
        parts.append("MKL")
    if "MKL-DNN" in cfg or "oneDNN" in cfg:
        parts.append(f"oneDNN enabled={torch.backends.mkldnn.is_available()}")
    for line in cfg.splitlines():
        if "CPU capability usage" in line:
            parts.append(line.strip(" -"))
    return ", ".join(parts)


def hugepage_description():
    """Transparent huge pages: the kernel's mode, and whether NumPy asks for them (arrays >= 4 MiB)."""
    try:
        thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().strip()
    except OSError:
        thp = "unknown"
    get = getattr(getattr(np, "_core", np.core).multiarray, "_get_madvise_hugepage", None)
    numpy_thp = "unknown" if get is None else ("yes" if get() else "no")
    return f"transparent huge pages {thp}; NumPy madvises huge pages: {numpy_thp}"


def machine_lines():
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                      "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMPY_MADVISE_HUGEPAGE")
           if k in os.environ}
    return [
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical cores",
        f"- Python {platform.python_version()}, NumPy {np.__version__}",
        f"- NumPy BLAS: {blas_description()}",
        f"- PyTorch: {torch_description()}",
        f"- Environment: {', '.join(f'{k}={v}' for k, v in env.items()) or 'no BLAS/OpenMP variables set'}",
        f"- Memory: {hugepage_description()}",
        f"- Load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
        f"(other processes on the machine add noise; the ratios come from interleaved rounds)",
    ]


# --------------------------------------------------------------------------- timing


CLOCK = time.perf_counter  # --clock cpu switches to time.process_time


def kernel_seconds():
    """CPU time this process has spent in the kernel (page faults of fresh memory, mostly)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def interleaved(fns, rounds, min_sample_s):
    """Median seconds per call of each function, timed in interleaved rounds,
    and the median kernel time per call.

    Each function is warmed up, then given a repeat count so that one sample
    (that many calls in a row) lasts at least ``min_sample_s``; every round
    takes one sample of each function in turn.
    """
    reps = {}
    for name, f in fns.items():
        f()  # warm-up (allocations, lazy initialisation, caches)
        t0 = CLOCK()
        f()
        reps[name] = max(1, math.ceil(min_sample_s / max(CLOCK() - t0, 1e-9)))
    samples = {name: [] for name in fns}
    kernel = {name: [] for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            n = reps[name]
            k0, t0 = kernel_seconds(), CLOCK()
            for _ in range(n):
                f()
            samples[name].append((CLOCK() - t0) / n)
            kernel[name].append((kernel_seconds() - k0) / n)
    return ({name: float(np.median(s)) for name, s in samples.items()},
            {name: float(np.median(s)) for name, s in kernel.items()})


def forward_flops(B, T, D, H):
    """The forward pass's matrix products: 2 B T (D + H) 4H; backward is about twice that."""
    return 2 * B * T * (D + H) * 4 * H


class Problem:
    """One configuration: the three contenders with the same weights and data."""

    def __init__(self, B, T, D, H, dtype, seed=0):
        rng = np.random.default_rng(seed)
        self.shape = (B, T, D, H)
        self.lstm = LSTM(D, H, rng=rng, dtype=dtype)
        self.lstm.params["b"] += (0.1 * rng.standard_normal(4 * H)).astype(dtype)
        self.x = rng.standard_normal((B, T, D)).astype(dtype)
        self.dout = rng.standard_normal((B, T, H)).astype(dtype)
        self.tut = TutorialLSTM.from_lstm_np(self.lstm)
        self.cache = None  # the previous call's cache, for the reuse contender
        self.torch = None
        if torch is not None:
            m = torch.nn.LSTM(D, H, batch_first=True)
            m = m.double() if dtype == np.float64 else m.float()
            m.load_state_dict({k: torch.from_numpy(v) for k, v in self.lstm.to_torch().items()})
            self.torch = m
            self.tx = torch.from_numpy(self.x.copy()).requires_grad_(True)
            self.tdout = torch.from_numpy(self.dout.copy())

    # the timed calls ------------------------------------------------------
    def np_fwd(self):
        return self.lstm.forward(self.x)

    def np_fb(self):
        out, _, cache = self.lstm.forward(self.x)
        return self.lstm.backward(self.dout, cache)

    def reuse_fwd(self):
        out, state, self.cache = self.lstm.forward(self.x, reuse=self.cache)
        return out, state, self.cache

    def reuse_fb(self):
        out, _, self.cache = self.lstm.forward(self.x, reuse=self.cache)
        return self.lstm.backward(self.dout, self.cache)

    def products_only(self):
        """Only the matrix products of one lstm_np forward+backward, same shapes and
        calls as lstm_np.sequence.lstm: the floor of this layout with NumPy's BLAS."""
        if not hasattr(self, "_prod"):
            B, T, D, H = self.shape
            K, _ = _chunk_steps(T, B, 4 * H)
            dt = self.x.dtype
            xt = np.ascontiguousarray(self.x.transpose(1, 0, 2)).reshape(T * B, D)
            self._prod = dict(xt=xt, act=np.empty((T * B, 4 * H), dt), h=np.ones((B, H), dt),
                              hWh=np.empty((B, 4 * H), dt), hs=np.ones((T * B, H), dt),
                              dz=np.full((K * B, 4 * H), 0.5, dt), K=K)
        q, p = self._prod, self.lstm.params
        B, T, D, H = self.shape
        np.matmul(q["xt"], p["Wx"], out=q["act"])
        for _ in range(T):
            np.dot(q["h"], p["Wh"], out=q["hWh"])
        WhT = np.ascontiguousarray(p["Wh"].T)
        for t in range(T):
            np.dot(q["dz"][(t % q["K"]) * B : (t % q["K"] + 1) * B], WhT)
        for start in range(0, T, q["K"]):
            n = min(q["K"], T - start)
            dz = q["dz"][: n * B]
            q["xt"][start * B : (start + n) * B].T @ dz
            q["hs"][start * B : (start + n) * B].T @ dz
            dz @ p["Wx"].T

    def tut_fwd(self):
        return self.tut.forward(self.x)

    def tut_fb(self):
        out, _, steps = self.tut.forward(self.x)
        return self.tut.backward(self.dout, steps)

    def torch_fwd(self):  # the training forward: autograd records what backward needs
        return self.torch(self.tx)

    def torch_fb(self):
        self.torch.zero_grad(set_to_none=True)
        self.tx.grad = None
        out, _ = self.torch(self.tx)
        out.backward(self.tdout)


# --------------------------------------------------------------------------- self-check


def self_check():
    """lstm_np, the tutorial LSTM and nn.LSTM compute the same function (float64, and float32 for torch)."""
    for B, T, D, H in [(3, 7, 5, 6), CONFIGS["tiny"], CONFIGS["S"]]:
        p = Problem(B, T, D, H, np.float64, seed=B + T)
        rng = np.random.default_rng(1)
        h0, c0 = rng.standard_normal((2, B, H))
        out, (h, c), cache = p.lstm.forward(p.x, h0, c0)
        dx, dh0, dc0 = p.lstm.backward(p.dout, cache)
        ours = dict(out=out, h=h, c=c, dx=dx, dh0=dh0, dc0=dc0, **p.lstm.grads)

        t_out, (t_h, t_c), steps = p.tut.forward(p.x, h0, c0)
        t_dx, t_dh0, t_dc0 = p.tut.backward(p.dout, steps)
        tut = dict(out=t_out, h=t_h, c=t_c, dx=t_dx, dh0=t_dh0, dc0=t_dc0, **p.tut.fused_grads())
        for k, v in ours.items():
            np.testing.assert_allclose(tut[k], v, rtol=1e-9, atol=1e-12, err_msg=f"tutorial vs lstm_np: {k}")
        if torch is None:
            continue
        for dtype, tol in ((np.float64, 1e-9), (np.float32, 2e-4)):
            q = Problem(B, T, D, H, dtype, seed=B + T)
            out, _, cache = q.lstm.forward(q.x)
            dx, _, _ = q.lstm.backward(q.dout, cache)
            q.torch_fb()
            with torch.no_grad():
                t_out, _ = q.torch(q.tx)
            g = {k: v.grad.numpy() for k, v in q.torch.named_parameters()}
            g["bias_hh_l0"] = np.zeros_like(g["bias_hh_l0"])  # d/db_ih = d/db_hh: count it once
            t_grads = LSTM.from_torch(g, dtype=dtype).params
            np.testing.assert_allclose(t_out.numpy(), out, rtol=tol, atol=tol, err_msg="torch vs lstm_np: out")
            np.testing.assert_allclose(q.tx.grad.numpy(), dx, rtol=tol, atol=tol, err_msg="torch vs lstm_np: dx")
            for k, v in q.lstm.grads.items():
                scale = max(1.0, float(np.abs(v).max()))
                np.testing.assert_allclose(t_grads[k], v, rtol=tol, atol=tol * scale, err_msg=f"torch vs lstm_np: {k}")


# --------------------------------------------------------------------------- memory


def strict_cache_bytes(B, T, D, H, itemsize):
    """What backward strictly needs from forward: gate activations T*B*4H, cell and
    hidden states (T+1)*B*H each (including the initial state), tanh(c) T*B*H, and
    the inputs T*B*D."""
    return itemsize * (T * B * 4 * H + 2 * (T + 1) * B * H + T * B * H + T * B * D)


def peak_bytes(fn):
    """Peak of the memory NumPy allocates while fn runs (tracemalloc sees NumPy's buffers)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------- recommender hook


def recommender_epoch(epochs=3):
    """The recommender's training time per epoch on MovieLens-100K (``lstm-np train``'s default settings).

    Uses the cached data only (no download from a benchmark); runs the
    protocol of ``lstm-np train`` (``recommender.protocol.run_protocol``)
    with at most ``epochs`` epochs of the correction net while its epoch
    count is chosen, and returns the median time of those epochs (each
    includes its validation pass), or a line saying why it was skipped.
    """
    import dataclasses

    from lstm_np.data import default_cache_dir
    from lstm_np.recommender.hybrid import SequenceConfig
    from lstm_np.recommender.pipeline import load_data
    from lstm_np.recommender.protocol import run_protocol

    if not (default_cache_dir() / "ml-100k" / "u.data").exists():
        return "skipped (MovieLens-100K not in the cache; run `lstm-np train` once)"
    ratings, _ = load_data("movielens", log=None)
    config = dataclasses.replace(SequenceConfig(), epochs=epochs, patience=epochs + 1)
    history = run_protocol(ratings, config, log=None, progress=False).history
    times = np.diff([h["elapsed"] for h in history[1:]], prepend=0.0)  # includes validation
    return (f"{np.median(times):.2f} s per epoch of the correction net (median of {len(times)}, including the "
            "validation pass)")


# --------------------------------------------------------------------------- main


def fmt_ms(s):
    return "—" if s is None else (f"{s * 1e3:.3f}" if s < 0.01 else f"{s * 1e3:.1f}")


def fmt_ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and shorter samples")
    ap.add_argument("--configs", default="tiny,S,L", help="comma-separated subset of " + ",".join(CONFIGS))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--dtypes", default="float32,float64", help="comma-separated subset of float32,float64")
    ap.add_argument("--contenders", default="lstm_np,reuse,tutorial,torch",
                    help="comma-separated subset of lstm_np,reuse,tutorial,torch (e.g. one alone per process, "
                         "to see how the contenders' allocations affect each other)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results.md"), help="Markdown output")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: elapsed time (default); cpu: this process's CPU time, steadier on a shared "
                         "machine but only comparable across contenders with 1 thread")
    args = ap.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
    configs = [c for c in args.configs.split(",") if c]
    threads = [int(n) for n in args.threads.split(",") if n]
    dtypes = [np.dtype(d) for d in args.dtypes.split(",") if d]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r}; choose from {', '.join(CONFIGS)}")
    contenders = [c for c in args.contenders.split(",") if c]
    for c in contenders:
        if c not in ("lstm_np", "reuse", "tutorial", "torch"):
            ap.error(f"unknown contender {c!r}; choose from lstm_np, reuse, tutorial, torch")
    rounds = {"tiny": 7, "S": 7, "L": 3} if args.quick else {"tiny": 15, "S": 11, "L": 5}
    min_sample = 0.02 if args.quick else 0.05

    machine = machine_lines()
    print("\n".join(machine), flush=True)
    print("self-check: lstm_np = tutorial = torch (outputs and gradients) ...", end=" ", flush=True)
    with threadpool_limits(1):
        self_check()
    print("ok", flush=True)

    times, gflops, memory = [], [], []
    for n_threads in threads:
        with threadpool_limits(n_threads, user_api="blas"):
            if torch is not None:
                torch.set_num_threads(n_threads)
            blas_threads = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
            print(f"\n== {n_threads} thread(s): NumPy BLAS threads {blas_threads}, "
                  f"torch threads {torch.get_num_threads() if torch else '—'}", flush=True)
            for dtype in dtypes:
                for name in configs:
                    B, T, D, H = CONFIGS[name]
                    p = Problem(B, T, D, H, dtype)
                    has_torch = p.torch is not None
                    for mode in ("fwd", "fwd+bwd"):
                        fns = {"lstm_np": p.np_fwd if mode == "fwd" else p.np_fb,
                               "reuse": p.reuse_fwd if mode == "fwd" else p.reuse_fb,
                               "tutorial": p.tut_fwd if mode == "fwd" else p.tut_fb}
                        if has_torch:
                            fns["torch"] = p.torch_fwd if mode == "fwd" else p.torch_fb
                        fns = {k: f for k, f in fns.items() if k in contenders}
                        if mode == "fwd+bwd":  # the GEMM reference, in the same rounds
                            a = np.random.default_rng(0).standard_normal((T * B, D + H)).astype(dtype)
                            w = np.random.default_rng(1).standard_normal((D + H, 4 * H)).astype(dtype)
                            c = np.empty((T * B, 4 * H), dtype)
                            fns["gemm"] = lambda a=a, w=w, c=c: np.matmul(a, w, out=c)
                            fns["products"] = p.products_only
                        med, kern = interleaved(fns, rounds[name], min_sample)
                        row = dict(threads=n_threads, dtype=dtype.name, config=name, mode=mode,
                                   lstm_np=med.get("lstm_np"), reuse=med.get("reuse"), tutorial=med.get("tutorial"),
                                   torch=med.get("torch"), products=med.get("products"),
                                   np_kernel=kern.get("lstm_np"),
                                   reuse_kernel=kern.get("reuse"), tut_kernel=kern.get("tutorial"),
                                   torch_kernel=kern.get("torch"))
                        times.append(row)
                        print(f"{dtype.name} {name:4s} {mode:7s}  lstm_np {fmt_ms(row['lstm_np'])} ms  "
                              f"reuse {fmt_ms(row['reuse'])} ms  "
                              f"tutorial {fmt_ms(row['tutorial'])} ms  torch {fmt_ms(row['torch'])} ms  "
                              f"lstm_np/torch {fmt_ratio(row['lstm_np'], row['torch'])}  "
                              f"(kernel ms: lstm_np {fmt_ms(row['np_kernel'])}, torch {fmt_ms(row['torch_kernel'])})",
                              flush=True)
                        if mode == "fwd+bwd":
                            flops = 3 * forward_flops(B, T, D, H)
                            gemm_rate = forward_flops(B, T, D, H) / med["gemm"]
                            rate = {k: flops / med[k] if k in med else None
                                    for k in ("lstm_np", "reuse", "tutorial", "torch")}
                            g = dict(threads=n_threads, dtype=dtype.name, config=name, gflop=flops / 1e9,
                                     gemm=gemm_rate, **rate)
                            gflops.append(g)
                            if g["lstm_np"] is not None:
                                print(f"   GFLOP/s: lstm_np {g['lstm_np'] / 1e9:.1f}, GEMM {gemm_rate / 1e9:.1f} "
                                      f"-> {g['lstm_np'] / gemm_rate:.0%} of GEMM", flush=True)
                    if name == "L" and n_threads == threads[0] and "lstm_np" in contenders:
                        need = strict_cache_bytes(B, T, D, H, dtype.itemsize)
                        mem = dict(dtype=dtype.name, need=need,
                                   lstm_np=peak_bytes(p.np_fb), lstm_np_fwd=peak_bytes(p.np_fwd),
                                   tutorial=peak_bytes(p.tut_fb) if "tutorial" in contenders else None)
                        memory.append(mem)
                        print(f"   peak memory fwd+bwd: lstm_np {mem['lstm_np'] / 2**20:.0f} MiB "
                              f"({mem['lstm_np'] / need:.2f}x the strict need of {need / 2**20:.0f} MiB)", flush=True)
                    del p
                    gc.collect()

    with threadpool_limits(1, user_api="blas"):  # as `make demo` runs it
        rec = recommender_epoch()
    print(f"\nrecommender: {rec}")
    md = render(machine, args, times, gflops, memory, rec)
    Path(args.out).write_text(md)
    print("\n" + md)
    print(f"(written to {args.out})")


def render(machine, args, times, gflops, memory, rec):
    command = " ".join(["python benchmarks/bench_lstm.py", *sys.argv[1:]])
    L = ["# LSTM benchmark", "", f"Command: `{command}`", ""]
    L += ["## Machine", "", *machine, ""]
    L += [f"## Time per call (median ms, {args.clock} clock; ratio < 1: lstm_np is faster)", "",
          "B, T, D, H: tiny 1, 20, 10, 32; S 64, 50, 64, 128; L 256, 100, 256, 512. "
          "fwd is the training forward (lstm_np keeps its cache, torch records the graph); "
          "fwd+bwd adds the gradients of the weights and of x. "
          "Kernel ms: the part of each call spent in the kernel (mostly page faults of freshly "
          "allocated memory; resolution about 1 ms per sample).", "",
          "| threads | dtype | config | pass | lstm_np | reuse | tutorial | torch | lstm_np / torch "
          "| reuse / torch | lstm_np / tutorial | kernel ms: lstm_np | reuse | tutorial | torch |",
          "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in times:
        L.append(f"| {r['threads']} | {r['dtype']} | {r['config']} | {r['mode']} | {fmt_ms(r['lstm_np'])} | "
                 f"{fmt_ms(r['reuse'])} | {fmt_ms(r['tutorial'])} | {fmt_ms(r['torch'])} | "
                 f"{fmt_ratio(r['lstm_np'], r['torch'])} | {fmt_ratio(r['reuse'], r['torch'])} | "
                 f"{fmt_ratio(r['lstm_np'], r['tutorial'])} | {fmt_ms(r['np_kernel'])} | {fmt_ms(r['reuse_kernel'])} | "
                 f"{fmt_ms(r['tut_kernel'])} | {fmt_ms(r['torch_kernel'])} |")
    L += ["", "## The matrix products alone (forward+backward)", "",
          "`products`: only the GEMMs lstm_np does (same shapes and calls: the input projection, one "
          "recurrent product per step each way, the chunked weight and input gradients), timed in the "
          "same rounds. It is the floor for this layout with NumPy's BLAS: everything else lstm_np does "
          "(the element-wise gate math, copies, Python) comes on top.", "",
          "| threads | dtype | config | products ms | torch ms | products / torch | lstm_np − products ms |",
          "|---|---|---|---:|---:|---:|---:|"]
    for r in times:
        if r["mode"] == "fwd+bwd" and r.get("products") is not None:
            rest = "—" if r["lstm_np"] is None else fmt_ms(r["lstm_np"] - r["products"])
            L.append(f"| {r['threads']} | {r['dtype']} | {r['config']} | {fmt_ms(r['products'])} | "
                     f"{fmt_ms(r['torch'])} | {fmt_ratio(r['products'], r['torch'])} | {rest} |")
    L += ["", "## Throughput of forward+backward (GFLOP/s)", "",
          "Flops: forward 2·B·T·(D+H)·4H, backward twice that. GEMM: NumPy's `matmul` of "
          "(T·B, D+H) × (D+H, 4H), timed in the same rounds.", "",
          "| threads | dtype | config | GFLOP | lstm_np | reuse | tutorial | torch | GEMM | lstm_np / GEMM "
          "| reuse / GEMM |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    def rate(v):
        return "—" if v is None else f"{v / 1e9:.1f}"

    for g in gflops:
        frac = {k: "—" if g[k] is None else f"{g[k] / g['gemm']:.0%}" for k in ("lstm_np", "reuse")}
        L.append(f"| {g['threads']} | {g['dtype']} | {g['config']} | {g['gflop']:.3g} | {rate(g['lstm_np'])} | "
                 f"{rate(g['reuse'])} | {rate(g['tutorial'])} | {rate(g['torch'])} | {rate(g['gemm'])} | "
                 f"{frac['lstm_np']} | {frac['reuse']} |")
    if memory:
        L += ["", "## Peak memory at L (tracemalloc, NumPy allocations during the call)", "",
              "Strict need: what backward must get from forward, T·B·4H gate activations + (T+1)·B·H "
              "cell states + (T+1)·B·H hidden states + T·B·H tanh(c) + T·B·D inputs.", "",
              "| dtype | strict need MiB | lstm_np fwd MiB | lstm_np fwd+bwd MiB | ratio | tutorial fwd+bwd MiB |",
              "|---|---:|---:|---:|---:|---:|"]
        for m in memory:
            tut = "—" if m["tutorial"] is None else f"{m['tutorial'] / 2**20:.0f}"
            L.append(f"| {m['dtype']} | {m['need'] / 2**20:.0f} | {m['lstm_np_fwd'] / 2**20:.0f} | "
                     f"{m['lstm_np'] / 2**20:.0f} | {m['lstm_np'] / m['need']:.2f} | {tut} |")
    L += ["", "## Summary (1 thread, float32, forward+backward)", "",
          "lstm_np: the default call; reuse: `forward(x, reuse=cache)`. Ratio < 1: lstm_np is faster. "
          f"In brackets, the ratio recorded on {RECORDED_ON} (`RECORDED_RATIO` in the script), for comparison.", ""]
    for name in CONFIGS:
        r = [t for t in times if (t["threads"], t["dtype"], t["config"], t["mode"]) == (1, "float32", name, "fwd+bwd")]
        for who in ("lstm_np", "reuse"):
            if r and r[0]["torch"] is not None and r[0][who] is not None:
                v = r[0][who] / r[0]["torch"]
                L.append(f"- {name}: {who} / torch = {v:.2f} (recorded on {RECORDED_ON}: {RECORDED_RATIO[name][who]:.2f})")
    g = [g for g in gflops if (g["threads"], g["dtype"], g["config"]) == (1, "float32", "L")]
    for who in ("lstm_np", "reuse"):
        if g and g[0][who]:
            L.append(f"- L: {who} at {g[0][who] / g[0]['gemm']:.0%} of the throughput of one NumPy GEMM of the same flops")
    m = [m for m in memory if m["dtype"] == "float32"]
    if m:
        L.append(f"- L: peak memory of forward+backward {m[0]['lstm_np'] / m[0]['need']:.2f}x what the cache strictly needs")
    L += ["", "## Recommender (MovieLens-100K)", "", f"Training time per epoch: {rec}", ""]
    return "\n".join(L)


if __name__ == "__main__":
    main()
