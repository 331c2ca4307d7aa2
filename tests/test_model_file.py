"""A saved model's description cannot be edited unnoticed, nor its arrays swapped for another save's.

The .npz carries the description it was saved with (covered by the .npz's SHA-256, which the .json
records): ``io.load`` refuses a .json that says anything else, naming the file and the field, and an .npz
of another save unless it is the save that replaced this .json's (a save stopped between its two renames).
"""

import json
import os
import shutil

import numpy as np
import pytest

from lstm_np import io
from lstm_np.io import model_file

ARRAYS = {"W": np.arange(6.0).reshape(2, 3), "ids": np.arange(4)}
META = {"kind": "test", "base": {"mu": 3.53, "num_items": 4, "dtype": "float64"}, "seeds": [0, 1], "tied": True}


def saved(folder, arrays=ARRAYS, meta=META):
    io.save(folder / "model", arrays, meta)
    return folder / "model.json"


def edit(path, change):
    j = json.loads(path.read_text())
    change(j)
    path.write_text(json.dumps(j, indent=2))


@pytest.mark.parametrize("change, field", [
    (lambda j: j["meta"]["base"].update(mu=3.6), "field meta.base.mu is 3.6, but the save wrote 3.53"),
    (lambda j: j["meta"]["base"].update(num_items=4.0), "field meta.base.num_items is 4.0, but the save wrote 4"),
    (lambda j: j["meta"].update(tied=1), "field meta.tied is 1, but the save wrote True"),
    (lambda j: j["meta"]["seeds"].append(2), "field meta.seeds is [0, 1, 2], but the save wrote [0, 1]"),
    (lambda j: j["meta"]["seeds"].__setitem__(1, 5), "field meta.seeds[1] is 5"),
    (lambda j: j["meta"].update(note="harmless?"), "field meta.note is 'harmless?', but the save wrote missing"),
    (lambda j: j["meta"]["base"].pop("dtype"), "field meta.base.dtype is missing, but the save wrote 'float64'"),
    (lambda j: j["meta"].update(kind="other"), "field meta.kind is 'other'"),
    (lambda j: j.update(save_id="0" * 32), "field save_id is"),
    (lambda j: j.update(previous_save_id="1" * 32), "field previous_save_id is"),
])
def test_any_edit_of_the_json_is_a_model_file_error_naming_the_field(tmp_path, change, field):
    path = saved(tmp_path)
    edit(path, change)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(io.ModelFileError) as e:
        io.load(tmp_path / "model")
    assert str(e.value).startswith(f"{path}: {field}") and "edited after the save" in str(e.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing repaired or removed


def test_reformatting_the_json_is_no_edit(tmp_path):
    path = saved(tmp_path)
    path.write_text(json.dumps(json.loads(path.read_text()), separators=(",", ":"), sort_keys=False))
    arrays, meta = io.load(tmp_path / "model")
    assert meta == META and set(arrays) == {"W", "ids"}


def test_an_edited_checksum_or_a_removed_one_is_refused(tmp_path):
    path = saved(tmp_path)
    edit(path, lambda j: j.update(npz_sha256="0" * 64))
    with pytest.raises(io.ModelFileError, match="contents do not match the checksum"):
        io.load(path)
    edit(path, lambda j: j.pop("npz_sha256"))
    with pytest.raises(io.ModelFileError, match="field npz_sha256 is 'missing'"):
        io.load(path)


def test_an_npz_of_another_save_is_refused_not_loaded_with_its_own_description(tmp_path):
    saved(tmp_path / "a")
    saved(tmp_path / "b", {"W": np.ones((2, 3)), "ids": np.arange(4)}, {**META, "base": {**META["base"], "mu": 4.0}})
    shutil.copy(tmp_path / "b" / "model.npz", tmp_path / "a" / "model.npz")
    with pytest.raises(io.ModelFileError) as e:
        io.load(tmp_path / "a" / "model")
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'a' / 'model.npz'}: from another save than model.json")
    assert "delete model.json to load the .npz" in message
    os.unlink(tmp_path / "a" / "model.json")  # what the message offers: the .npz alone describes itself
    assert io.load(tmp_path / "a" / "model")[1]["base"]["mu"] == 4.0


def test_a_save_stopped_between_its_renames_still_loads_the_new_model(tmp_path, monkeypatch):
    saved(tmp_path, meta={**META, "v": 1})
    calls = []
    real = os.replace

    def killed_after_the_first(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies before the .json is renamed
        real(src, dst)

    monkeypatch.setattr(model_file.os, "replace", killed_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        io.save(tmp_path / "model", {"W": np.full((2, 3), 7.0), "ids": np.arange(4)}, {**META, "v": 2})
    monkeypatch.undo()
    arrays, meta = io.load(tmp_path / "model")  # the new .npz beside the old .json: the new model
    assert meta["v"] == 2 and arrays["W"][0, 0] == 7.0
    io.save(tmp_path / "model", ARRAYS, {**META, "v": 3})  # and the next save is a normal one
    assert io.load(tmp_path / "model")[1]["v"] == 3


def test_files_of_the_previous_version_still_load(tmp_path):
    """Version 2 (no previous_save_id) files, as lstm_np wrote them until now, load and are protected too."""
    path = saved(tmp_path)
    arrays = dict(ARRAYS)
    j = json.loads(path.read_text())
    core = {k: v for k, v in j.items() if k not in ("npz_sha256", "previous_save_id")}
    core["version"] = 2
    data = model_file._npz_bytes({**arrays, model_file.DESCRIPTION_MEMBER: np.frombuffer(
        json.dumps(core, sort_keys=True).encode(), dtype=np.uint8)})
    (tmp_path / "model.npz").write_bytes(data)
    import hashlib

    path.write_text(json.dumps({**core, "npz_sha256": hashlib.sha256(data).hexdigest()}, indent=2))
    assert io.load(tmp_path / "model")[1] == META
    edit(path, lambda j: j["meta"]["base"].update(mu=1.0))
    with pytest.raises(io.ModelFileError, match="field meta.base.mu is 1.0"):
        io.load(tmp_path / "model")


def test_the_rating_models_file_gets_the_protection(tmp_path):
    """The recommender saves through io.save: an edited MF mean (valid under its schema) is refused."""
    from lstm_np.data import make_synthetic, temporal_split
    from lstm_np.recommender import pipeline
    from lstm_np.recommender.hybrid import CorrectionNet, SequenceConfig, build_histories
    from lstm_np.recommender.mf import MatrixFactorization

    ratings = make_synthetic(seed=0)
    h = build_histories(ratings, temporal_split(ratings))
    model = pipeline.SequenceRecommender(MatrixFactorization(h.num_users, h.num_items, 2, mu=3.5, rng=0),
                                         CorrectionNet(hidden_size=4, rng=0, dtype=np.float64),
                                         SequenceConfig(hidden_size=4, window=8, dtype="float64"), "mf")
    pipeline.save_model(tmp_path / "model", model, h, ratings, {"name": "synthetic", "seed": 0})
    pipeline.load_model(tmp_path)
    path = tmp_path / "model.json"
    j = json.loads(path.read_text())
    mu_path = next(f"{part}.mu" for part, v in j["meta"].items() if isinstance(v, dict) and "mu" in v)
    part = mu_path.split(".")[0]
    edit(path, lambda j: j["meta"][part].update(mu=j["meta"][part]["mu"] + 0.5))
    with pytest.raises(io.ModelFileError, match=f"model.json: field meta.{mu_path} is 4.0, but the save wrote 3.5"):
        pipeline.load_model(tmp_path)


def _interrupted_save(stem, arrays, meta, monkeypatch):
    """io.save stopped between its two renames (the .npz replaced, the old .json still in place)."""
    import os

    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        io.save(stem, arrays, meta)
    monkeypatch.setattr(os, "replace", real)


def test_a_save_interrupted_over_a_version_1_file_loads_the_new_model(tmp_path, monkeypatch):
    import hashlib
    import json as json_

    from lstm_np.io import model_file as mf

    stem = tmp_path / "model"
    data = mf._npz_bytes({"W": np.arange(6.0).reshape(2, 3)})
    (tmp_path / "model.npz").write_bytes(data)
    (tmp_path / "model.json").write_text(json_.dumps(
        {"format": mf.FORMAT, "version": 1, "arrays": {"W": {"shape": [2, 3], "dtype": "<f8"}}, "meta": {"k": 1},
         "npz_sha256": hashlib.sha256(data).hexdigest()}))
    assert io.load(stem)[1] == {"k": 1}
    _interrupted_save(stem, {"W": np.ones((2, 3))}, {"k": 2}, monkeypatch)
    arrays, meta = io.load(stem)
    assert meta == {"k": 2} and np.array_equal(arrays["W"], np.ones((2, 3)))


def test_an_npz_of_version_2_interrupted_beside_its_old_json_still_loads(tmp_path, monkeypatch):
    """An .npz written before previous_save_id existed keeps the old rule: it describes itself."""
    from lstm_np.io import model_file as mf

    stem = tmp_path / "model"
    io.save(stem, {"W": np.zeros(3)}, {"k": 1})
    real_core = mf.json.dumps

    def without_previous(obj, *a, **k):  # the embedded description as version 2 wrote it
        if isinstance(obj, dict) and "previous_save_id" in obj:
            obj = {key: v for key, v in obj.items() if key != "previous_save_id"}
        return real_core(obj, *a, **k)

    monkeypatch.setattr(mf.json, "dumps", without_previous)
    _interrupted_save(stem, {"W": np.ones(3)}, {"k": 2}, monkeypatch)
    monkeypatch.setattr(mf.json, "dumps", real_core)
    arrays, meta = io.load(stem)
    assert meta == {"k": 2} and np.array_equal(arrays["W"], np.ones(3))
