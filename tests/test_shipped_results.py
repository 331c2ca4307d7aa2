"""Results shipped with the repository for the notebooks to read instead of training for minutes.

``notebooks/data/lab.json`` is the full laboratory run that notebook 07 reads (``lstm-np lab
--workers 1``): it must load with ``load_lab``, hold the full settings and every variant, seed and
task, and be small enough to keep in git.
"""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lstm_np.studies import LAB_FULL, load_lab

LAB_JSON = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "lab.json"


def test_the_shipped_lab_run_is_the_full_setting_and_complete():
    r = load_lab(LAB_JSON)
    full = json.loads(json.dumps(asdict(LAB_FULL)))           # as run_lab writes it
    assert json.loads(LAB_JSON.read_text())["settings"] == full
    seeds, variants = len(full["seeds"]), full["variants"]
    for v in variants:
        for T in full["lengths"]:
            assert len(r["adding"][v][T]) == seeds and np.all(np.asarray(r["adding"][v][T]) > 0)
        assert len(r["char"][v]) == seeds and len(r["rec"][v]) == seeds
        assert np.isfinite(r["rec"][v]).all()
    assert len(r["rec_mf"]) == seeds and all(0.5 < x < 1.5 for x in r["rec_mf"])


def test_the_shipped_lab_run_is_small():
    assert LAB_JSON.stat().st_size < 1_000_000
