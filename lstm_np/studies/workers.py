"""Running a study's training jobs: in this process, or in fresh worker processes; results as JSON."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

__all__ = ["executor", "to_json"]


@contextmanager
def executor(workers):
    if workers <= 1:  # in this process, one job after the other
        with ThreadPoolExecutor(max_workers=1) as ex:
            yield ex
        return
    # Fresh ("spawn") processes read these when they import NumPy.
    limits = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    saved = {k: os.environ.get(k) for k in limits}
    os.environ.update(limits)
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            yield ex
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def to_json(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot serialise {type(v).__name__}")
