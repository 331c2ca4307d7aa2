import dataclasses

import numpy as np
import pytest

from lstm_np import io
from lstm_np.data import TEST, TRAIN, VAL, Ratings, make_synthetic
from lstm_np.gradcheck import TOLERANCE, check_gradients
from lstm_np.recommender.baselines import BiasModel, fit_bias_model, rmse
from lstm_np.recommender.evaluate import predict_part, recommend
from lstm_np.recommender.model import RatingModel
from lstm_np.recommender.pipeline import baselines, fit, prepare
from lstm_np.recommender.sequences import UNKNOWN_ITEM, make_batch
from lstm_np.recommender.train import TrainConfig, TrainingError, train

QUICK = TrainConfig(embed_dim=8, hidden_size=16, epochs=2, lr=1e-2, batch_size=16, dtype="float64")


def small_ratings(n_users=12, n_items=15, seed=0):
    """A tiny data set: every user rates 10-20 distinct items in time order."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        n = int(rng.integers(10, 21)) if u > 1 else 10
        items = rng.permutation(np.arange(1, n_items + 1))[: min(n, n_items)]
        for k, i in enumerate(items):
            rows.append((u, i, float(rng.integers(1, 6)), 1000 * u + k))
    u, i, r, t = map(np.array, zip(*rows))
    return Ratings(u.astype(np.int64), i.astype(np.int64), r.astype(np.float64), t.astype(np.int64),
                   {int(k): f"Movie {k}" for k in range(1, n_items + 1)})


@pytest.fixture
def exp():
    return prepare(small_ratings(), {"name": "test"})


# --------------------------------------------------------------------------- sequences and the information rule


def test_batches_put_ratings_in_time_order_with_feedback_shifted(exp):
    seqs = exp.seqs
    batch = make_batch(seqs, [0], TRAIN, mean=3.0)
    n = int(seqs.lengths(TRAIN)[0])
    ratings = seqs.rating[seqs.offsets[0] : seqs.offsets[0] + n]
    np.testing.assert_array_equal(batch.target[0], ratings)
    np.testing.assert_array_equal(batch.prev_rating[0, 1:], ratings[:-1] - 3.0)
    assert batch.prev_known[0, 0] == 0 and batch.prev_known[0, 1:].all()


def _random_model(exp, seed=1, cell="lstm"):
    """A model whose every parameter is random, so the LSTM really shapes the predictions
    (a fresh model's head W is zero: it would predict the bias baseline whatever it read)."""
    model = RatingModel(exp.seqs.num_items, exp.seqs.num_users, 3.0, embed_dim=4, hidden_size=5, rng=seed, cell=cell)
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p += 0.5 * rng.standard_normal(p.shape)
    return model


def test_held_out_ratings_never_enter_the_inputs(exp):
    """Scoring a part: changing any of its ratings (or later ones) changes no prediction."""
    model = _random_model(exp)
    for part in (VAL, TEST):
        rows, pred, target = predict_part(model, exp.seqs, part)
        assert len(rows) == len(getattr(exp.split, "val" if part == VAL else "test"))
        changed = exp.seqs.rating.copy()
        held_out = exp.seqs.part >= part
        changed[held_out] = 6.0 - changed[held_out]  # flip 1 <-> 5, 2 <-> 4
        leaked = dataclasses.replace(exp.seqs, rating=changed)
        rows2, pred2, target2 = predict_part(model, leaked, part)
        np.testing.assert_array_equal(rows, rows2)
        np.testing.assert_array_equal(pred, pred2)
        assert not np.array_equal(target, target2)  # the targets did change


def test_the_leakage_check_would_catch_a_leak(exp):
    """Control for the test above: if held-out ratings were fed back, predictions would move."""
    model = _random_model(exp)
    batch = make_batch(exp.seqs, np.arange(exp.seqs.num_users), TEST, mean=3.0)
    # no step's rating is fed back once that step is scored
    assert (batch.prev_known[:, 1:] * batch.score_mask[:, :-1]).max() == 0
    leaky = dataclasses.replace(batch, prev_known=batch.step_mask.copy())  # pretend every rating is known
    prev = np.zeros_like(batch.prev_rating)
    T = batch.items.shape[1]
    for b, u in enumerate(batch.users):
        r = exp.seqs.rating[exp.seqs.offsets[u] : exp.seqs.offsets[u + 1]]
        prev[b, 1 : len(r)] = r[:-1] - 3.0
    leaky = dataclasses.replace(leaky, prev_rating=prev[:, :T])
    scored = batch.score_mask > 0
    assert np.abs(model.predict(leaky)[scored] - model.predict(batch)[scored]).max() > 1e-3


def test_items_unseen_in_training_get_the_unknown_row_and_a_finite_prediction():
    r = small_ratings()
    # item 99 appears only as user 1's very last (test) rating
    r = Ratings(np.r_[r.user, 1], np.r_[r.item, 99], np.r_[r.rating, 4.0], np.r_[r.timestamp, 10**9], r.titles)
    exp = prepare(r, {"name": "test"})
    assert 99 not in exp.seqs.item_ids
    k = np.flatnonzero(exp.seqs.row == len(r) - 1)[0]
    assert exp.seqs.item[k] == UNKNOWN_ITEM and exp.seqs.part[k] == TEST
    model = RatingModel(exp.seqs.num_items, exp.seqs.num_users, 3.0, embed_dim=4, hidden_size=5, rng=1)
    rows, pred, _ = predict_part(model, exp.seqs, TEST)
    assert np.isfinite(pred).all() and len(r) - 1 in rows


# --------------------------------------------------------------------------- gradients of the whole model


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_whole_model_gradients_match_numerical(exp, cell):
    model = RatingModel(exp.seqs.num_items, exp.seqs.num_users, 3.0, embed_dim=3, hidden_size=4, rng=2, cell=cell)
    rng = np.random.default_rng(0)
    for p in model.params.values():  # move away from the zero/bias initialisation
        p += 0.3 * rng.standard_normal(p.shape)
    batch = make_batch(exp.seqs, [0, 3, 5], TRAIN, mean=3.0, hide=np.array([0, 2, 4]))
    model.loss(batch)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    errors = check_gradients(lambda: model.loss(batch), model.params, analytic)
    assert max(errors.values()) <= TOLERANCE, errors


# --------------------------------------------------------------------------- baselines


def test_bias_model_closed_form_on_a_tiny_example():
    # two users, two items, three ratings: with reg = 0 the biases can fit them exactly
    user, item, rating = np.array([1, 1, 2]), np.array([10, 20, 10]), np.array([5.0, 3.0, 4.0])
    m = BiasModel(user, item, rating, reg=0.0, iters=200)
    np.testing.assert_allclose(m.predict(user, item), rating, atol=1e-6)  # 3 ratings, enough freedom
    assert m.predict(np.array([7]), np.array([77]))[0] == pytest.approx(4.0)  # unknowns get mu
    shrunk = BiasModel(user, item, rating, reg=1e6)
    np.testing.assert_allclose(shrunk.predict(user, item), 4.0, atol=1e-4)  # all shrunk to mu


def test_bias_regularisation_is_chosen_on_validation():
    r = make_synthetic(seed=3)
    exp = prepare(r, {"name": "synthetic"})
    model, scores = fit_bias_model(exp.part(exp.split.train), exp.part(exp.split.val))
    assert scores[model.reg] == min(scores.values())
    u, i, y = exp.part(exp.split.val)
    assert rmse(model.predict(u, i), y) == pytest.approx(scores[model.reg])


# --------------------------------------------------------------------------- training


def test_training_beats_the_bias_baseline_on_synthetic_sequential_data():
    """The synthetic ratings depend on the order of items; a bag-of-items model can't fit them."""
    exp = prepare(make_synthetic(seed=0), {"name": "synthetic", "seed": 0})
    base, bias_model = baselines(exp)
    config = TrainConfig(embed_dim=16, hidden_size=32, epochs=14, patience=14, lr=1e-2, batch_size=16, seed=0)
    result = fit(exp, bias_model, config, log=None, progress=False)
    _, pred, target = predict_part(result.model, exp.seqs, TEST)
    lstm_rmse = rmse(pred, target)
    assert base["bias"]["test"]["rmse"] > 1.2
    assert lstm_rmse < base["bias"]["test"]["rmse"] - 0.4, (lstm_rmse, base["bias"]["test"]["rmse"])


def test_same_seed_gives_identical_runs_and_another_seed_does_not(tmp_path):
    r = make_synthetic(n_users=60, seed=1)
    exp = prepare(r, {"name": "synthetic"})
    _, bias_model = baselines(exp)
    runs = [fit(exp, bias_model, dataclasses.replace(QUICK, seed=s), log=None, progress=False) for s in (5, 5, 6)]
    def without_time(history):
        return [{k: v for k, v in h.items() if k != "elapsed"} for h in history]

    assert without_time(runs[0].history) == without_time(runs[1].history)
    for k in runs[0].model.params:
        np.testing.assert_array_equal(runs[0].model.params[k], runs[1].model.params[k])
    assert without_time(runs[0].history) != without_time(runs[2].history)


def test_nan_stops_training_naming_the_step_and_keeps_the_good_parameters():
    exp = prepare(make_synthetic(n_users=40, seed=2), {"name": "synthetic"})
    _, bias_model = baselines(exp)
    from lstm_np.recommender.pipeline import new_model

    model = new_model(exp, bias_model, QUICK)
    good = {k: v.copy() for k, v in model.params.items()}
    original = model.loss
    calls = []

    def poisoned(batch):
        calls.append(1)
        loss = original(batch)
        if len(calls) == 3:
            model.grads["lstm.Wh"][0, 0] = np.nan
        return loss

    model.loss = poisoned
    with pytest.raises(TrainingError, match=r"gradient of lstm.Wh contains NaN or inf at epoch 1, step 3"):
        train(model, exp.seqs, QUICK, log=None, progress=False)
    for k in good:  # no epoch finished, so the last good parameters are the initial ones
        np.testing.assert_array_equal(model.params[k], good[k])


def test_training_keeps_the_parameters_of_the_best_epoch():
    exp = prepare(make_synthetic(n_users=60, seed=1), {"name": "synthetic"})
    _, bias_model = baselines(exp)
    config = dataclasses.replace(QUICK, epochs=6, patience=6, lr=3e-2)
    saved = {}
    result = fit(exp, bias_model, config, log=None, progress=False,
                 on_improve=lambda m: saved.update({k: v.copy() for k, v in m.params.items()}))
    vals = [h["val_rmse"] for h in result.history]
    assert result.best_epoch == int(np.argmin(vals)) and result.best_val_rmse == min(vals)
    for k in saved:  # the last improvement is what the model holds at the end
        np.testing.assert_array_equal(result.model.params[k], saved[k])
    _, pred, target = predict_part(result.model, exp.seqs, VAL)
    assert rmse(pred, target) == pytest.approx(result.best_val_rmse, abs=1e-12)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match=r"lr=-1"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match=r"dtype='float16'"):
        TrainConfig(dtype="float16")


# --------------------------------------------------------------------------- saving and loading


def test_io_keeps_dots_in_names_and_the_usual_file_mode(tmp_path):
    io.save(tmp_path / "ckpt.epoch5", {"a": np.zeros(2)}, {"e": 5})
    io.save(tmp_path / "ckpt.epoch6", {"a": np.ones(2)}, {"e": 6})
    assert io.load(tmp_path / "ckpt.epoch5")[1] == {"e": 5}
    assert io.load(tmp_path / "ckpt.epoch6.npz")[1] == {"e": 6}
    import os

    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "ckpt.epoch5.npz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_io_says_when_a_file_is_not_a_model(tmp_path):
    (tmp_path / "metrics.json").write_text('{"lstm": {}}')
    with pytest.raises(io.ModelFileError, match="not an lstm_np model file"):
        io.load(tmp_path / "metrics.json")


def test_io_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="numeric ndarray"):
        io.save(tmp_path / "x", {"a": np.array([{}], dtype=object)}, {})


# --------------------------------------------------------------------------- recommendations and the command line


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recommend_excludes_rated_items_and_sorts_by_score(exp, cell):
    model = _random_model(exp, seed=3, cell=cell)
    with pytest.raises(ValueError, match="top must be a positive integer"):
        recommend(model, exp.seqs, user=0, top=0)
    items, scores = recommend(model, exp.seqs, user=0, top=3)
    rated = set(exp.seqs.item[exp.seqs.offsets[0] : exp.seqs.offsets[1]])
    assert len(items) == 3 and not rated & set(items) and UNKNOWN_ITEM not in items
    assert np.all(np.diff(scores) <= 0)
    # scoring a candidate as the next step equals running the history with it appended
    from lstm_np.recommender.sequences import Batch

    n = int(np.diff(exp.seqs.offsets)[0])
    seq = slice(exp.seqs.offsets[0], exp.seqs.offsets[1])
    items = np.r_[exp.seqs.item[seq], items[0]][None, :]
    prev = np.r_[0.0, exp.seqs.rating[seq] - 3.0][None, :]
    known = np.r_[0.0, np.ones(n)][None, :]
    ones = np.ones((1, n + 1))
    full = Batch(np.array([0]), items, prev, known, ones, ones, ones, -ones.astype(int))
    assert model.predict(full)[0, -1] == pytest.approx(scores[0], abs=1e-12)
