"""A save killed at a random moment leaves the old or the new model, never a mix.

A child process saves a model in a loop, alternating two versions, and is
killed with SIGKILL at a random moment; afterwards the folder must load as
one of the two versions (every array and the meta agreeing), and the next
save must leave no temporary file behind. The same for a whole run folder
(model + metrics) written with ``io.run_folder``.

``LSTM_NP_KILLS=100 pytest tests/test_kill_save.py`` runs more kills (the
default keeps the suite fast).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lstm_np import io

KILLS = int(os.environ.get("LSTM_NP_KILLS", "6"))
N = 400_000  # float64 entries per array: a 6 MB model, so a save takes a while

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

CHILD_MODEL = f"""
import sys, numpy as np
from lstm_np import io
stem = sys.argv[1]
arrays = {{v: {{"W": np.full({N}, float(v)), "b": np.full(1000, float(v)), "V": np.full(({N} // 2, 2), float(v))}}
          for v in (1, 2)}}
k = 0
while True:
    v = 1 + k % 2
    io.save(stem, arrays[v], {{"version": v, "pad": "x" * 1000}})
    if k == 0:
        print("ready", flush=True)
    k += 1
"""

CHILD_RUN = f"""
import json, os, sys, numpy as np
from lstm_np import io
out = sys.argv[1]
if os.environ.get("NO_EXCHANGE"):
    io.runs._exchange = None  # the fallback of systems without renameat2: two renames, finished by the next call
k = 0
while True:
    v = 1 + k % 2
    with io.run_folder(out) as stage:
        io.save(stage / "model", {{"W": np.full({N}, float(v))}}, {{"version": v}})
        (stage / "metrics.json").write_text(json.dumps({{"version": v}}))
    if k == 0:
        print("ready", flush=True)
    k += 1
"""


def _kill_at_random(code, target, rng, **env):
    child = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE,
                             env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env})
    try:
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.25))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()


def _check_model(stem):
    """The model loads, as version 1 or 2 throughout; returns the version."""
    arrays, meta = io.load(stem)
    v = meta["version"]
    assert v in (1, 2)
    for name, a in arrays.items():
        assert np.all(a == v), f"array {name} is not all {v}: a mix of two saves"
    return v


def test_killed_model_saves_leave_the_old_or_the_new_model(tmp_path):
    rng = np.random.default_rng(0)
    stem = tmp_path / "model"
    seen = set()
    for _ in range(KILLS):
        _kill_at_random(CHILD_MODEL, stem, rng)
        seen.add(_check_model(stem))
        v = _check_model(stem)  # loading twice gives the same (load repairs nothing by guessing)
        io.save(stem, {"W": np.full(3, float(v))}, {"version": v})  # the next save cleans up
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.npz"]
    assert seen  # and typically both versions were seen


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_killed_run_folder_writes_leave_the_old_or_the_new_run(tmp_path, exchange, monkeypatch):
    if not exchange:
        monkeypatch.setattr(io.runs, "_exchange", None)
    rng = np.random.default_rng(1)
    out = tmp_path / "run"
    for _ in range(max(3, KILLS // 2 if exchange else KILLS // 4)):
        _kill_at_random(CHILD_RUN, out, rng, **({} if exchange else {"NO_EXCHANGE": "1"}))
        v = _check_model(out / "model")
        assert json.loads((out / "metrics.json").read_text())["version"] == v  # one run, not a mix
        with io.run_folder(out) as stage:  # the next write cleans up
            io.save(stage / "model", {"W": np.full(3, float(v))}, {"version": v})
            (stage / "metrics.json").write_text(json.dumps({"version": v}))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
        assert sorted(p.name for p in out.iterdir()) == [".lstm_np_run", "metrics.json", "model.json", "model.npz"]


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("stage_complete", [True, False])
def test_a_kill_between_the_two_fallback_renames_is_finished_by_the_next_call(tmp_path, stage_complete):
    out = tmp_path / "run"
    for v in (1, 2):
        with io.run_folder(out) as stage:
            io.save(stage / "model", {"W": np.full(3, float(v))}, {"version": v})
    pid = _dead_pid()
    # The state two renames leave when killed between them: no `run`, the old run
    # moved aside, the new one complete (or, if killed earlier, incomplete) in its stage.
    stage = tmp_path / f".run.stage.{pid}.0123abcd"
    os.rename(out, tmp_path / f".run.old.{pid}.89abcdef")
    stage.mkdir()
    io.save(stage / "model", {"W": np.full(3, 3.0)}, {"version": 3})
    if stage_complete:
        (stage / ".lstm_np_run").write_text("")
    arrays, meta = io.load(out / "model")
    assert meta["version"] == (3 if stage_complete else 2) and np.all(arrays["W"] == meta["version"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_probe_left_by_a_killed_check_is_removed_by_the_next(tmp_path):
    """A kill between check_writable_dir's probe and its removal leaves a hidden file; the next check removes it."""
    stale = tmp_path / f".run.probe.{_dead_pid()}.0123abcd.tmp"
    stale.write_bytes(b"")
    io.check_writable_dir(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []
