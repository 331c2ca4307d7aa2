"""Matrix factorisation, the sequence model's inputs, the standard protocol, and the saved model."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from lstm_np import io
from lstm_np.cli import main
from lstm_np.data import TEST, VAL, Ratings, make_synthetic, temporal_split
from lstm_np.gradcheck import TOLERANCE, check_gradients
from lstm_np.recommender.baselines import rmse
from lstm_np.recommender.hybrid import (FEATURES, CorrectionNet, SequenceConfig, build_histories, make_inputs,
                                        next_step_inputs)
from lstm_np.recommender.mf import MatrixFactorization, fit_mf
from lstm_np.recommender.pipeline import load_model, run, save_model
from lstm_np.recommender.protocol import run_protocol

TINY = SequenceConfig(hidden_size=4, window=8, epochs=2, patience=2, batch_size=16, dtype="float64")
TINY_GRID = {"factors": (2,), "reg": (0.1,)}


def small_data(seed=0, n_users=40):
    return make_synthetic(n_users=n_users, n_items=30, min_len=20, max_len=30, seed=seed)


def with_ratings(r: Ratings, rows, new):
    rating = r.rating.copy()
    rating[rows] = new
    return Ratings(r.user, r.item, rating, r.timestamp, r.titles)


# --------------------------------------------------------------------------- matrix factorisation


def _mf_case(seed=0):
    rng = np.random.default_rng(seed)
    m = MatrixFactorization(4, 5, 3, mu=3.0, rng=seed)
    for v in m.params.values():
        v += 0.5 * rng.standard_normal(v.shape)
    user = np.array([0, 1, 1, 3, 0, 2, 1])  # users and items repeat within the batch
    item = np.array([4, 0, 0, 2, 1, 4, 3])
    rating = rng.integers(1, 6, len(user)).astype(np.float64)
    return m, user, item, rating


def test_mf_gradients_match_central_differences():
    m, user, item, rating = _mf_case()
    analytic = m.gradients(user, item, rating, reg=0.3, reg_bias=0.05)
    errors = check_gradients(lambda: m.loss(user, item, rating, 0.3, 0.05), m.params, analytic)
    assert max(errors.values()) <= TOLERANCE, errors
    # rows that no rating touches get exactly no gradient
    assert analytic["b_user"][2] != 0 and np.all(analytic["Q"][~np.isin(np.arange(5), item)] == 0)


def test_mf_sgd_step_is_the_gradient_step():
    m, user, item, rating = _mf_case(1)
    g = m.gradients(user, item, rating, 0.2, 0.01)
    expected = {k: v - 0.05 * g[k] for k, v in m.params.items()}
    m.sgd_step(user, item, rating, 0.05, 0.2, 0.01)
    for k in expected:
        np.testing.assert_allclose(m.params[k], expected[k], rtol=0, atol=1e-14)


def test_mf_fits_a_low_rank_matrix_and_leaves_unrated_rows_at_zero():
    rng = np.random.default_rng(0)
    P, Q = rng.normal(0, 0.7, (30, 2)), rng.normal(0, 0.7, (25, 2))
    user, item = np.divmod(np.arange(30 * 24), 24)  # item 24 is never rated
    rating = 3.0 + np.einsum("nf,nf->n", P[user], Q[item])
    m = MatrixFactorization(30, 25, 2, rng=1)
    m.fit(user, item, rating, epochs=150, lr=0.02, reg=0.0, reg_bias=0.0, batch_size=64, rng=1)
    assert rmse(m.predict(user, item), rating) < 0.05
    assert m.params["b_item"][24] == 0 and np.all(m.params["Q"][24] == 0)
    assert m.predict(np.array([3]), np.array([24]))[0] == pytest.approx(m.mu + m.params["b_user"][3])


def test_mf_same_seed_same_factors_other_seed_not():
    _, user, item, rating = _mf_case()
    fits = []
    for seed in (4, 4, 5):
        m = MatrixFactorization(4, 5, 3, rng=seed)
        m.fit(user, item, rating, epochs=3, batch_size=2, rng=seed)
        fits.append(m.params)
    for k in fits[0]:
        np.testing.assert_array_equal(fits[0][k], fits[1][k])
    assert not np.array_equal(fits[0]["P"], fits[2]["P"])


@pytest.mark.parametrize("change, message", [
    (lambda u, i, r: (u, i, np.r_[r[:-1], np.nan]), "rating contains NaN"),
    (lambda u, i, r: (np.r_[u[:-1], 4], i, r), r"user indices must be integers in \[0, 4\)"),
    (lambda u, i, r: (u, i[:-1], r), "of one length"),
])
def test_mf_bad_input_is_a_clear_error_and_changes_nothing(change, message):
    m, user, item, rating = _mf_case()
    before = {k: v.copy() for k, v in m.params.items()}
    with pytest.raises(ValueError, match=message):
        m.fit(*change(user, item, rating), epochs=1)
    with pytest.raises(ValueError, match=r"lr must be positive, got -1"):
        m.fit(user, item, rating, lr=-1)
    for k in before:
        np.testing.assert_array_equal(m.params[k], before[k])


def test_mf_diverging_is_an_error_naming_the_epoch():
    m, user, item, rating = _mf_case()
    before = {k: v.copy() for k, v in m.params.items()}
    with pytest.raises(ValueError, match="NaN or inf at epoch"):
        m.fit(user, item, rating * 1e3, epochs=50, lr=10.0)
    for k in before:
        np.testing.assert_array_equal(m.params[k], before[k])


def test_fit_mf_chooses_the_setting_and_epoch_best_on_validation():
    h = build_histories(small_data(), temporal_split(small_data()))
    tr, va = h.known(2), h.known(1) & ~h.known(2)
    best, table = fit_mf(h.num_users, h.num_items, (h.user[tr], h.item[tr], h.rating[tr]),
                         (h.user[va], h.item[va], h.rating[va]), grid={"factors": (2,), "reg": (0.05, 0.5)},
                         max_epochs=8)
    assert len(table) == 2 and best["val_rmse"] == min(r["val_rmse"] for r in table)
    m = MatrixFactorization(h.num_users, h.num_items, 2, rng=0)
    m.fit(h.user[tr], h.item[tr], h.rating[tr], epochs=best["epochs"], lr=best["lr"], reg=best["reg"],
          reg_bias=best["reg_bias"], rng=0)
    assert rmse(m.predict(h.user[va], h.item[va]), h.rating[va]) == pytest.approx(best["val_rmse"], abs=1e-12)


# --------------------------------------------------------------------------- the sequence model's inputs


def test_prefix_levels_end_before_test_before_validation_and_one_stretch_earlier():
    r = small_data()
    h = build_histories(r, temporal_split(r))
    n = np.diff(h.offsets)
    n_test, n_val = h.count(TEST), h.count(VAL)
    np.testing.assert_array_equal(h.ends(0), n)
    np.testing.assert_array_equal(h.ends(1), n - n_test)
    np.testing.assert_array_equal(h.ends(2), n - n_test - n_val)
    np.testing.assert_array_equal(h.ends(3), n - n_test - n_val - n_test)
    assert h.known(1).sum() == len(r) - n_test.sum() and not (h.known(2) & (h.part != 0)).any()


def test_ratings_after_the_cut_never_enter_the_inputs():
    r = small_data()
    h = build_histories(r, temporal_split(r))
    base = np.full(len(r.rating), 3.2)
    users, lo, start, stop = np.arange(6), np.array([0, 2, 5, 0, 1, 3]), np.array([8, 9, 12, 15, 10, 7]), \
        np.array([12, 12, 18, 19, 10, 11])
    inp = make_inputs(h, base, 3.0, users, lo, start, stop)
    pos = np.arange(len(r.rating)) - h.offsets[h.user]
    after = np.isin(h.user, users) & (pos >= start[np.searchsorted(users, h.user).clip(0, 5)])
    changed = dataclasses.replace(h, rating=np.where(after, 6.0 - h.rating, h.rating))
    inp2 = make_inputs(changed, base, 3.0, users, lo, start, stop)
    np.testing.assert_array_equal(inp.x, inp2.x)
    assert not np.array_equal(inp.target, inp2.target)  # the targets did change
    # control: a rating just before the cut is an input
    before = h.offsets[0] + start[0] - 1
    seen = dataclasses.replace(h, rating=np.where(np.arange(len(r.rating)) == before, 6.0 - h.rating, h.rating))
    assert not np.array_equal(make_inputs(seen, base, 3.0, users, lo, start, stop).x, inp.x)
    assert inp.x.shape == (6, 19, len(FEATURES)) and inp.score.sum() == (stop - start).sum()


def test_scoring_a_candidate_next_equals_appending_it_to_the_history():
    r = small_data()
    h = build_histories(r, temporal_split(r))
    net = CorrectionNet(hidden_size=5, rng=3, dtype=np.float64)
    for v in net.params.values():
        v += 0.3 * np.random.default_rng(0).standard_normal(v.shape)
    user, n = 2, int(np.diff(h.offsets)[2])
    base = np.linspace(2.5, 4.0, len(r.rating))
    # append a candidate (item 7, base 4.4) at the time of the user's last rating
    k = h.offsets[user + 1]
    ins = lambda a, v: np.insert(a, k, v)  # noqa: E731
    h2 = dataclasses.replace(h, offsets=h.offsets + (np.arange(h.num_users + 1) > user), user=ins(h.user, user),
                             item=ins(h.item, 7), rating=ins(h.rating, 0.0), time=ins(h.time, h.time[k - 1]),
                             part=ins(h.part, TEST), row=ins(h.row, -1))
    full = make_inputs(h2, ins(base, 4.4), 3.0, [user], [0], [n], [n + 1])
    step = next_step_inputs(h, base, 3.0, user, np.array([4.4, 2.0]))
    np.testing.assert_allclose(step[0, 0], full.x[0, -1], atol=1e-15)
    hist = make_inputs(h, base, 3.0, [user], [0], [n], [n])
    state = net.forward(hist.x, hist.mask)[1][-1]
    corr = net.forward(step[:1], None, state)[0]
    assert corr[0, 0] == pytest.approx(net.forward(full.x, full.mask)[0][0, -1], abs=1e-12)


# --------------------------------------------------------------------------- the protocol


@pytest.fixture(scope="module")
def protocol_runs():
    r = small_data()
    split = temporal_split(r)
    flipped_test = with_ratings(r, split.test, 6.0 - r.rating[split.test])
    flipped_val = with_ratings(r, split.val, 6.0 - r.rating[split.val])
    go = lambda ratings, seed=0: run_protocol(ratings, dataclasses.replace(TINY, seed=seed),  # noqa: E731
                                              mf_grid=TINY_GRID, log=None)
    return {"r": r, "split": split, "base": go(r), "again": go(r), "seed1": go(r, 1),
            "test_flipped": go(flipped_test), "val_flipped": go(flipped_val)}


def test_test_ratings_never_enter_the_protocol(protocol_runs):
    """Every test rating flipped (1 <-> 5): no model's test prediction, and no validation score, moves."""
    a, b = protocol_runs["base"], protocol_runs["test_flipped"]
    assert set(a.test_predictions) == {"global_mean", "bias", "mf", "sequence"}
    for name, (rows, pred) in a.test_predictions.items():
        np.testing.assert_array_equal(rows, b.test_predictions[name][0])
        np.testing.assert_array_equal(pred, b.test_predictions[name][1])
        assert a.rows[name]["val"] == b.rows[name]["val"]
        assert a.rows[name]["test"]["rmse"] != b.rows[name]["test"]["rmse"]  # the targets did change


def test_the_refit_uses_train_and_validation(protocol_runs):
    """Flipping validation ratings moves every model's test predictions; the refit means are train + val's."""
    r, split, a, b = (protocol_runs[k] for k in ("r", "split", "base", "val_flipped"))
    for name in a.test_predictions:
        assert not np.array_equal(a.test_predictions[name][1], b.test_predictions[name][1]), name
    trval = np.r_[split.train, split.val]
    assert a.test_predictions["global_mean"][1][0] == pytest.approx(r.rating[trval].mean(), abs=1e-12)
    assert a.base.mu == pytest.approx(r.rating[trval].mean(), abs=1e-12)
    assert len(a.test_predictions["sequence"][1]) == len(split.test)
    assert np.isfinite(a.test_predictions["sequence"][1]).all()


def test_protocol_is_deterministic(protocol_runs):
    a, b, c = protocol_runs["base"], protocol_runs["again"], protocol_runs["seed1"]
    assert a.rows == b.rows and a.history == [dict(h, elapsed=x["elapsed"]) for h, x in zip(b.history, a.history)]
    for k in a.net.params:
        np.testing.assert_array_equal(a.net.params[k], b.net.params[k])
    assert a.rows["sequence"] != c.rows["sequence"]


def test_protocol_rejects_a_bad_base():
    with pytest.raises(ValueError, match="base must be one of"):
        run_protocol(small_data(), TINY, base="svd", log=None)
    with pytest.raises(ValueError, match=r"hidden_size=0"):
        SequenceConfig(hidden_size=0)


# --------------------------------------------------------------------------- saving, loading, the command line


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    metrics = run("synthetic", dataclasses.replace(TINY, cell="gru"), out, base="mf", log=None, plot=False,
                  mf_grid=TINY_GRID)
    return out, metrics


def test_round_trip_keeps_the_whole_model(saved):
    out, metrics = saved
    model, (ratings, h), meta = load_model(out)
    assert meta["base"]["kind"] == "mf" and model.base.shape[2] == 2 and model.net.cell == "gru"
    arrays, _ = io.load(out / "model")
    for k, v in model.base.params.items():
        np.testing.assert_array_equal(arrays[f"base.{k}"], v)
    _, pred, target = model.predict_test(h)
    assert rmse(pred, target) == metrics["rows"]["sequence"]["test"]["rmse"]
    items, scores = model.recommend(h, 0, top=5)
    rated = set(h.item[h.offsets[0] : h.offsets[1]])
    assert len(items) == 5 and not rated & set(items) and np.all(np.diff(scores) <= 0)
    with pytest.raises(ValueError, match="top must be a positive integer"):
        model.recommend(h, 0, top=0)


def _edit_json(folder, change):
    """Edit the saved description as a crafted pair would: the .json and the description the .npz carries
    (under its checksum) changed together, so that the checks behind the checksum are reached. (An edit of
    the .json alone is refused before them, naming the field: tests/test_model_file.py.)"""
    import hashlib

    arrays, _ = io.load(folder / "model")
    path = folder / "model.json"
    j = json.loads(path.read_text())
    change(j)
    core = {k: v for k, v in j.items() if k != "npz_sha256"}
    data = io._npz_bytes({**arrays, io.DESCRIPTION_MEMBER: np.frombuffer(json.dumps(core, sort_keys=True).encode(),
                                                                        dtype=np.uint8)})
    (folder / "model.npz").write_bytes(data)
    path.write_text(json.dumps({**core, "npz_sha256": hashlib.sha256(data).hexdigest()}))


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "model.npz").write_bytes((d / "model.npz").read_bytes()[:100]), "do not match the checksum"),
    (lambda d: (d / "model.json").write_text("{not json"), "not a readable JSON"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["net"].update(hidden_size=7)),
     r"meta.net.hidden_size is 7 but array 'head.W'"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["base"].update(factors=3)), r"meta.base.factors is 3 but array 'base.P'"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["base"].update(kind="svd")), r"meta.base.kind is 'svd'; expected one of"),
    (lambda d: _edit_json(d, lambda j: j["meta"].update(kind="x")), "not a recommender model"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["sequence"].update(lr=-1)), r"meta.sequence.lr is -1"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["sequence"].update(lr=0)), r"meta.sequence is damaged .*lr=0"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["sequence"].update(extra=1)), r"meta.sequence is damaged .*'extra'"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["sequence"].update(cell="lstm")),
     r"meta.sequence.cell is 'lstm' but meta.net.cell is 'gru'"),
    (lambda d: _edit_json(d, lambda j: (j["meta"]["net"].update(dtype="float32"),
                                        j["meta"]["sequence"].update(dtype="float32"))), "the configuration needs"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["metrics"]["rows"]["sequence"]["choice"].update(cell=3)),
     r"meta.metrics.rows.sequence.choice.cell is 3"),
    (lambda d: _edit_json(d, lambda j: j["meta"]["data"].update(seed=5)), "trained on other data"),
])
def test_damaged_or_mismatched_files_are_clear_errors(saved, tmp_path, damage, message):
    for name in ("model.npz", "model.json"):
        (tmp_path / name).write_bytes((saved[0] / name).read_bytes())
    damage(tmp_path)
    with pytest.raises(io.ModelFileError, match=message):
        load_model(tmp_path)


def test_a_nan_parameter_is_refused(saved, tmp_path):
    model, (ratings, h), meta = load_model(saved[0])
    model.base.params["b_item"][3] = np.nan
    save_model(tmp_path / "model", model, h, ratings, {"name": "synthetic", "seed": 0})
    with pytest.raises(io.ModelFileError, match="'base.b_item' contains NaN"):
        load_model(tmp_path)


def test_a_model_saved_without_metrics_loads_but_evaluate_says_so(saved, tmp_path, capsys):
    model, (ratings, h), _ = load_model(saved[0])
    save_model(tmp_path / "model", model, h, ratings, {"name": "synthetic", "seed": 0})
    assert "metrics" not in load_model(tmp_path)[2]
    assert main(["recommend", str(tmp_path), "--user", "3", "--top", "2"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "holds no metrics (field meta.metrics)" in capsys.readouterr().err


def test_cli_train_evaluate_recommend(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", "synthetic", "--epochs", "2", "--hidden-size", "4", "--window", "8",
                 "--base", "bias", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "choosing the epoch count" in printed and "epoch  1" not in printed  # --no-progress: no line per epoch
    for name in ("model.npz", "model.json", "metrics.json", "training.png"):
        assert (out / name).stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["rows"]) == {"global_mean", "bias", "mf", "sequence"} and metrics["base"] == "bias"
    for row in metrics["rows"].values():
        assert all(np.isfinite(row[p][k]) for p in ("val", "test") for k in ("rmse", "mae"))
    assert main(["evaluate", str(out)]) == 0
    table = capsys.readouterr().out
    assert f"{metrics['rows']['sequence']['test']['rmse']:.4f}" in table and "bias model" in table and "MF" in table
    assert main(["recommend", str(out), "--user", "3", "--top", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Top 4 unseen movies for user 3") and len(lines) == 5
    assert main(["recommend", str(out), "--user", "100000"]) == 2
    assert main(["train", "--data", "synthetic", "--epochs", "0", "--out", str(tmp_path / "x")]) == 2
    assert "epochs=0" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing")]) == 2


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["training", "writing the figure"])
def test_a_failed_run_leaves_the_earlier_run_and_a_second_run_replaces_it(tmp_path, monkeypatch, where):
    from lstm_np.recommender import pipeline, plots
    from lstm_np.recommender.hybrid import TrainingError

    out = tmp_path / "run"
    lines = []
    run("synthetic", TINY, out, log=lines.append, mf_grid=TINY_GRID)
    assert any(line.startswith("epoch  1") for line in lines)  # progress=True (the default) logs every epoch
    first = _files(out)
    assert {"model.npz", "model.json", "metrics.json", "training.png"} <= set(first)

    def fails_midway(metrics, pred, target, path):
        Path(path).write_bytes(b"half a png")
        raise OSError(28, "No space left on device")

    if where == "training":
        def diverges(*args, **kwargs):
            raise TrainingError("NaN or inf in the loss or a gradient at epoch 1, step 2")
        monkeypatch.setattr(pipeline, "run_protocol", diverges)
        error = TrainingError
    else:  # model and metrics are already written (to the stage) when this fails
        monkeypatch.setattr(plots, "training_figure", fails_midway)
        error = OSError
    with pytest.raises(error):
        run("synthetic", dataclasses.replace(TINY, seed=1), out, log=None, mf_grid=TINY_GRID)
    assert _files(out) == first  # the earlier run, byte for byte
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left behind
    load_model(out)

    monkeypatch.undo()
    run("synthetic", dataclasses.replace(TINY, seed=1), out, log=None, mf_grid=TINY_GRID)
    second = _files(out)
    assert set(second) == set(first)
    for name in ("model.npz", "model.json", "metrics.json", "training.png"):
        assert second[name] != first[name], name
    assert json.loads(second["metrics.json"])["sequence"]["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_refuses_a_folder_holding_other_files_before_loading_data(tmp_path, monkeypatch):
    from lstm_np.recommender import pipeline

    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.setattr(pipeline, "load_data", lambda *a, **k: pytest.fail("loaded data before checking --out"))
    with pytest.raises(FileExistsError, match="notes.txt"):
        run("synthetic", TINY, tmp_path, log=None)
    assert _files(tmp_path) == {"notes.txt": b"mine"}


def test_nan_in_training_stops_with_an_error_naming_the_step():
    from lstm_np.recommender.hybrid import TrainingError, make_cutset, train_corrector

    r = small_data()
    h = build_histories(r, temporal_split(r))
    bases, mus = {lv: np.full(len(r.rating), 3.0) for lv in (2, 3)}, {2: 3.0, 3: 3.0}
    net = CorrectionNet(hidden_size=3, rng=0, dtype=np.float64)
    good = {k: v.copy() for k, v in net.params.items()}
    original, calls = net.loss, []

    def poisoned(inputs):
        calls.append(1)
        loss = original(inputs)
        if len(calls) == 2:
            net.grads["lstm.Wh"][0, 0] = np.nan
        return loss

    net.loss = poisoned
    with pytest.raises(TrainingError, match=r"NaN or inf in the loss or a gradient at epoch 1, step 2"):
        train_corrector(net, h, bases, mus, make_cutset(h, [3], 8), TINY, val_cuts=make_cutset(h, [2], 8), log=None)
    for k in good:  # no epoch finished: the net keeps its initial parameters
        np.testing.assert_array_equal(net.params[k], good[k])
    bases[3][h.offsets[5] + h.ends(3)[5] - 1] = np.nan  # a NaN base prediction that the inputs would read
    with pytest.raises(ValueError, match=r"\['prev_residual', 'base'\] contain NaN"):
        make_inputs(h, bases[3], 3.0, [5], [0], h.ends(3)[5:6], h.ends(2)[5:6])


# --------------------------------------------------------------------------- another layer in the net (make_layer)


def _variant_layer(variant):
    from lstm_np.sequence import VariantLSTM

    return lambda D, H, rng, dtype: VariantLSTM(variant, D, H, rng=rng, dtype=dtype)


def test_make_layer_with_the_lstm_variant_fits_exactly_as_the_default_net():
    from lstm_np.recommender.protocol import fit_base, fit_sequence

    r = small_data(n_users=80)
    h = build_histories(r, temporal_split(r))
    choice = {"factors": 2, "lr": 0.02, "reg": 0.1, "reg_bias": 0.01, "epochs": 3}
    models = {lv: fit_base("mf", h, lv, choice) for lv in range(1, 3 + TINY.cuts)}
    config = dataclasses.replace(TINY, epochs=3, patience=3)
    default = fit_sequence(h, models, config)
    same = fit_sequence(h, models, config, make_layer=_variant_layer("lstm"))
    assert default.epochs == same.epochs and default.epochs >= 1
    assert same.test["rmse"] == pytest.approx(default.test["rmse"], abs=1e-10)
    np.testing.assert_allclose(same.test_pred, default.test_pred, atol=1e-10)
    for k, v in default.net.params.items():
        np.testing.assert_allclose(same.net.params[k], v, atol=1e-10)
    # control: another cell changes the predictions
    other = fit_sequence(h, models, config, make_layer=_variant_layer("coupled"))
    assert np.abs(other.test_pred - default.test_pred).max() > 1e-6


def test_make_layer_is_checked():
    with pytest.raises(TypeError, match="make_layer must be callable"):
        CorrectionNet(hidden_size=4, make_layer="lstm")
    with pytest.raises(ValueError, match=r"make_layer built a layer of \(input_size, hidden_size\) = \(8, 5\); "
                                         r"expected \(8, 4\)"):
        CorrectionNet(hidden_size=4, make_layer=lambda D, H, rng, dtype: _variant_layer("lstm")(D, H + 1, rng, dtype))
    net = CorrectionNet(hidden_size=4, rng=0, dtype=np.float64, make_layer=_variant_layer("no_forget"))
    assert net.layers["lstm"].variant == "no_forget" and net.params["lstm.Wx"].shape == (len(FEATURES), 12)


# --------------------------------------------------------------------------- the rating model from raw ids


def test_rating_model_loads_without_the_data_set(saved, monkeypatch):
    import lstm_np.recommender.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_data", lambda *a, **k: pytest.fail("load_model read the data set"))
    model, (ratings, h), _ = load_model(saved[0])
    assert model.histories is h and len(ratings.user) == len(h.row)
    assert model.titles[int(h.item_ids[0])] == ratings.titles[int(h.item_ids[0])]


def test_recommend_ids_from_a_user_or_a_history(saved):
    model, (ratings, h), _ = load_model(saved[0])
    u = int(h.user_ids[3])
    recs = model.recommend_ids(user=u, top=4)
    items, scores = model.recommend(h, 3, top=4)
    assert [r[0] for r in recs] == h.item_ids[items].tolist() and np.allclose([r[2] for r in recs], scores)
    rows = slice(h.offsets[3], h.offsets[4])
    history = [(int(i), float(t), float(r)) for i, t, r in zip(h.item_ids[h.item[rows]], h.time[rows], h.rating[rows])]
    again = model.recommend_ids(user=u, history=history[::-1], top=4)  # any order: sorted by time
    assert [r[0] for r in again] == [r[0] for r in recs] and np.allclose([r[2] for r in again], scores)
    new_user = model.recommend_ids(history=history[:5], top=3)       # no user factors: the items' side only
    assert len(new_user) == 3 and all(1.0 <= r[2] <= 5.0 for r in new_user)
    assert not {r[0] for r in new_user} & {e[0] for e in history[:5]}
    with pytest.raises(ValueError, match="unknown item id"):
        model.recommend_ids(history=[(10**6, 0.0, 4.0)])
    with pytest.raises(ValueError, match=r"in \[1, 5\]"):
        model.recommend_ids(history=[(int(h.item_ids[0]), 0.0, 7.0)])
    with pytest.raises(ValueError, match="not known"):
        model.recommend_ids(user=10**6)


def test_an_edited_stored_rating_is_refused(saved, tmp_path):
    data, meta = io.load(saved[0] / "model")
    data = dict(data)
    rating = data["history.rating"].copy()
    rating[0] = 6.0 - rating[0] if rating[0] != 3.0 else 4.0
    data["history.rating"] = rating
    io.save(tmp_path / "model", data, meta)
    with pytest.raises(io.ModelFileError, match="do not match its data checksum"):
        load_model(tmp_path)


def test_mf_sgd_step_is_checked_and_a_diverging_step_changes_nothing():
    from lstm_np.recommender.mf import MatrixFactorization

    m = MatrixFactorization(4, 5, factors=2, rng=0)
    before = {k: v.copy() for k, v in m.params.items()}
    user, item, rating = np.array([0, 1]), np.array([2, 3]), np.array([4.0, 1.0])
    with pytest.raises(ValueError):
        m.sgd_step(np.array([0, 9]), item, rating, 0.1, 0.1, 0.01)        # user 9 of 4
    with pytest.raises(ValueError, match="lr"):
        m.sgd_step(user, item, rating, -1.0, 0.1, 0.01)
    with pytest.raises(FloatingPointError, match="nothing was changed"):
        m.sgd_step(user, item, rating * 1e200, 1e200, 0.1, 0.01)
    assert all(np.array_equal(m.params[k], before[k]) for k in before)
    m.sgd_step(user, item, rating, 0.1, 0.1, 0.01)
    assert not np.array_equal(m.params["b_user"], before["b_user"])


def test_a_correction_net_refused_midway_leaves_the_callers_generator_as_it_was():
    from lstm_np.recommender.hybrid import CorrectionNet
    from lstm_np.sequence import LSTM

    rng = np.random.default_rng(5)
    before = rng.bit_generator.state

    def wrong_size(d, h, r, dtype):
        return LSTM(d, h + 1, rng=r, dtype=dtype)  # draws from the generator, then is refused

    with pytest.raises(ValueError, match="make_layer built a layer"):
        CorrectionNet(4, 3, rng=rng, make_layer=wrong_size)
    assert rng.bit_generator.state == before


def test_vocab_of_something_that_is_not_text_is_a_type_error():
    from lstm_np.charlm import Vocab

    for bad in (None, 3, ["a", "b"]):
        with pytest.raises(TypeError, match="chars must be a string"):
            Vocab(bad)
