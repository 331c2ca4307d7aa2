"""Next-item recommendation: the leave-one-out split, the ranking metrics, the LSTM model, the protocol, the saved model."""

import json

import numpy as np
import pytest

from lstm_np import io
from lstm_np.cli import main
from lstm_np.data import TEST, TRAIN, VAL, Ratings, make_synthetic, temporal_split
from lstm_np.data.sequences import interaction_order, leave_one_out, sequences_from_split
from lstm_np.gradcheck import CASES, TOLERANCE, check_gradients
from lstm_np.recommender.nextitem import NextItemConfig, NextItemNet, next_item_validation, train_next_item
from lstm_np.recommender.nextitem_model import NextItemRecommender
from lstm_np.recommender.nextitem_protocol import (evaluate, fit_lstm, run_next_item_protocol,
                                                   temporal_top_n)
from lstm_np.recommender.ranking import (exclusion_mask, pessimistic_top, ranking_metrics, target_ranks,
                                         top_n_metrics)

TINY = NextItemConfig(embed_dim=8, hidden_size=8, epochs=3, patience=2, batch_size=16, dtype="float64")
TINY_GRIDS = {"itemknn": {"k": (10,), "shrink": (0.0,)}, "transition": {"alpha": (1.0,)},
              "bprmf": {"factors": (4,), "reg": (0.01,), "epochs": (2,)}, "ease": {"lam": (10.0,)}}


def ratings(user, item, timestamp):
    n = len(user)
    return Ratings(np.array(user, np.int64), np.array(item, np.int64), np.full(n, 3.0), np.array(timestamp, np.int64),
                   {i: f"movie {i}" for i in set(item)})


def small(seed=0, n_users=60, p_follow=0.9):
    return make_synthetic(n_users=n_users, n_items=24, min_len=12, max_len=20, p_follow=p_follow, seed=seed)


# --------------------------------------------------------------------------- the split


def test_leave_one_out_holds_out_each_users_last_two_in_time_order():
    # user 5: times 3, 1, 2, 2 -> order item 30 (t1), 20 (t2), 40 (t2, larger id), 10 (t3)
    r = ratings([5, 5, 5, 5, 7, 7, 9], [10, 30, 40, 20, 11, 12, 13], [3, 1, 2, 2, 5, 6, 1])
    s = leave_one_out(r)
    assert s.user_ids.tolist() == [5, 7, 9] and s.item_ids.tolist() == [10, 11, 12, 13, 20, 30, 40]
    items = s.item_ids[s.item]
    assert items.tolist() == [30, 20, 40, 10, 11, 12, 13]
    assert s.part.tolist() == [TRAIN, TRAIN, VAL, TEST, VAL, TEST, TEST]  # 2 ratings: val + test; 1: test only
    assert s.lengths(TRAIN).tolist() == [2, 0, 0] and s.lengths(VAL).tolist() == [3, 1, 0]
    u, i = s.targets(TEST)
    assert u.tolist() == [0, 1, 2] and s.item_ids[i].tolist() == [10, 12, 13]
    assert np.array_equal(np.sort(s.row), np.arange(7))


def test_random_tie_break_reorders_only_equal_timestamps_and_is_seeded():
    rng = np.random.default_rng(0)
    n = 400
    user = rng.integers(1, 8, n)
    item = rng.permutation(n) + 1
    time = rng.integers(0, 20, n)  # many ties
    r = ratings(user, item, time)
    by_item = interaction_order(r, "item")
    a, b, c = (interaction_order(r, "random", seed=s) for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, by_item)
    for order in (by_item, a, c):  # always sorted by (user, time)
        key = np.stack([r.user[order], r.timestamp[order]], 1)
        assert np.all(np.diff(key[:, 0]) >= 0)
        assert np.all(np.diff(key[:, 1])[np.diff(key[:, 0]) == 0] >= 0)
    with pytest.raises(ValueError, match="tie_break"):
        interaction_order(r, "time")


def test_sequences_from_the_temporal_split_keep_its_parts():
    r = small()
    split = temporal_split(r)
    s = sequences_from_split(r, split)
    labels = split.labels(len(r.user))
    assert np.array_equal(s.part, labels[s.row])
    assert [(s.part == p).sum() for p in (TRAIN, VAL, TEST)] == list(split.sizes)


# --------------------------------------------------------------------------- metrics


def test_ranks_count_ties_against_the_model():
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.5],
                       [1.0, 1.0, 1.0, 1.0, 1.0],   # constant: the target ranks last
                       [0.2, 0.3, 0.9, 0.9, 0.0]])
    ranks = target_ranks(scores, np.array([0, 2, 3]))
    assert ranks.tolist() == [4, 5, 2]              # 0.9, 0.5, 0.5 >= 0.5; all 4 others; 0.9 tie
    exclude = np.zeros_like(scores, bool)
    exclude[0, 1] = exclude[1, [0, 1, 2]] = exclude[2, 2] = True
    exclude[1, 2] = True  # the target itself is never removed
    assert target_ranks(scores, np.array([0, 2, 3]), exclude).tolist() == [3, 3, 1]
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(np.array([[np.nan, 1.0]]), np.array([0]))


def test_ranking_metrics_by_hand():
    m = ranking_metrics(np.array([1, 3, 7, 12]), ks=(5, 10))
    assert m["HR@5"] == pytest.approx(0.5) and m["HR@10"] == pytest.approx(0.75)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / np.log2(4)) / 4)
    assert m["NDCG@10"] == pytest.approx((1 + 1 / np.log2(4) + 1 / np.log2(8)) / 4)
    assert m["MRR@10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4) and m["n"] == 4


def test_top_n_lists_break_ties_against_the_model():
    scores = np.array([[1.0, 1.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0]])
    relevant = np.array([[True, False, False, False], [False, True, False, True]])
    tops = pessimistic_top(scores, 2, relevant)
    assert tops[0].tolist() == [1, 2] and tops[1].tolist() == [0, 1]  # the tied relevant item goes last
    m = top_n_metrics(scores, relevant, n=2)
    assert m["users_with_hit"] == 0.5 and m["recall"] == pytest.approx((0 + 0.5) / 2)
    assert m["ndcg"] == pytest.approx((0 + (1 / np.log2(3)) / (1 + 1 / np.log2(3))) / 2)
    exclude = np.array([[False, True, True, False], [True, False, False, False]])
    assert [t.tolist() for t in pessimistic_top(scores, 2, relevant, exclude)] == [[0, 3], [1, 2]]


# --------------------------------------------------------------------------- the model's gradients


@pytest.mark.parametrize("case", ["next_item", "next_item_tied_2_layers", "next_item_gru", "bpr_mf"])
def test_next_item_gradients_match_central_differences(case):
    errors = check_gradients(*CASES[case](np.random.default_rng(3)))
    assert max(errors.values()) <= TOLERANCE, errors


def test_padded_positions_change_neither_the_loss_nor_the_state():
    net = NextItemNet(9, TINY)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 9, (2, 6)), rng.integers(0, 9, (2, 6))
    mask = np.ones((2, 6))
    mask[1, 4:] = 0
    loss, state, _ = net.loss(ids, targets, mask, train=False)
    ids2, targets2 = ids.copy(), targets.copy()
    ids2[1, 4:], targets2[1, 4:] = (ids[1, 4:] + 1) % 9, (targets[1, 4:] + 3) % 9
    loss2, state2, _ = net.loss(ids2, targets2, mask, train=False)
    assert loss == pytest.approx(loss2, abs=1e-12)
    assert np.allclose(state[0][0], state2[0][0], atol=1e-12)
    short = net.loss(ids[1:, :4], targets[1:, :4], None, train=False)[1]
    assert np.allclose(state[0][0][1], short[0][0][0], atol=1e-12)  # = the unpadded sequence's final state


def test_score_of_a_history_equals_the_last_step_of_the_full_forward():
    net = NextItemNet(11, TINY)
    h = [np.array([3, 1, 4, 1, 5]), np.array([9]), np.array([], np.int64), np.array([2, 6])]
    s = net.score(h, batch_size=2)
    z = net.forward(np.array([[3, 1, 4, 1, 5]]))[0]
    assert np.allclose(s[0], z[0, -1], atol=1e-12)
    assert np.allclose(s[2], net.head.params["b"], atol=1e-12)  # empty history: the prior (bias) only
    assert np.allclose(s[3], net.score([h[3]])[0], atol=1e-12)


# --------------------------------------------------------------------------- training


def test_lstm_learns_a_sequential_rule_that_popularity_cannot_see():
    s = leave_one_out(small(n_users=150))
    hist = s.histories(TRAIN)
    users, targets = s.targets(VAL)
    vh = [hist[u] for u in users]
    val = next_item_validation(vh, targets, exclusion_mask(vh, s.num_items))
    net = NextItemNet(s.num_items, TINY.replace(epochs=8, patience=8, hidden_size=16, embed_dim=16))
    fit = train_next_item(net, hist, epochs=8, val=val)
    ndcg = [r["NDCG@10"] for r in fit.history]
    smoothed = [ndcg[0]] + [np.mean(ndcg[max(e - 1, 1) : e + 2]) for e in range(1, len(ndcg))]
    assert [r["smoothed_NDCG@10"] for r in fit.history] == pytest.approx(smoothed, abs=1e-12)
    assert fit.best_epoch == int(np.argmax(smoothed))                  # mean of the epoch and its neighbours
    best = fit.history[fit.best_epoch]
    assert val(net)["NDCG@10"] == pytest.approx(best["NDCG@10"], abs=1e-12)  # that epoch's parameters kept
    pop = np.bincount(np.concatenate(hist), minlength=s.num_items).astype(float)
    pop_ndcg = ranking_metrics(target_ranks(np.tile(pop, (len(vh), 1)), targets,
                                            exclusion_mask(vh, s.num_items)))["NDCG@10"]
    assert best["NDCG@10"] > pop_ndcg + 0.05, (best["NDCG@10"], pop_ndcg)


def test_training_is_reproducible_from_the_seed():
    s = leave_one_out(small())
    outs = []
    for seed in (4, 4, 5):
        net = NextItemNet(s.num_items, TINY.replace(seed=seed))
        train_next_item(net, s.histories(TRAIN), epochs=2)
        outs.append(net.params["embedding.W"].copy())
    assert np.array_equal(outs[0], outs[1]) and not np.allclose(outs[0], outs[2])


def test_refit_uses_exactly_the_chosen_number_of_epochs():
    s = leave_one_out(small())
    row, refit = fit_lstm(s, TINY)
    fresh = NextItemNet(s.num_items, TINY)
    if row["choice"]["epochs"]:
        train_next_item(fresh, s.histories(VAL), epochs=row["choice"]["epochs"])
    for k, v in refit.params.items():
        assert np.array_equal(v, fresh.params[k]), k


# --------------------------------------------------------------------------- the protocol


def _change_test_items(r, s, rng):
    """The same ratings with every test interaction moved to another item the user has not seen."""
    item = r.item.copy()
    hist = s.histories(TEST)
    users, _ = s.targets(TEST)
    rows = s.row[s.part == TEST]
    for u, row in zip(users, rows):
        unseen = np.setdiff1d(s.item_ids, s.item_ids[hist[u]])
        item[row] = rng.choice(unseen)
    return Ratings(r.user, item, r.rating, r.timestamp, r.titles)


def test_no_test_interaction_is_ever_an_input_while_choosing():
    r = small(n_users=40)  # strictly increasing times: moving an item cannot reorder a user
    s = leave_one_out(r)
    s2 = leave_one_out(_change_test_items(r, s, np.random.default_rng(1)))
    assert not np.array_equal(s.item[s.part == TEST], s2.item[s2.part == TEST])
    rows1, _ = run_next_item_protocol(s, TINY, grids=TINY_GRIDS, log=None)
    rows2, _ = run_next_item_protocol(s2, TINY, grids=TINY_GRIDS, log=None)
    for name in rows1:
        assert rows1[name]["val"] == rows2[name]["val"], name
        assert rows1[name]["choice"] == rows2[name]["choice"], name


def test_evaluate_reports_both_settings_and_removing_seen_items_never_hurts():
    s = leave_one_out(small())
    pop = np.bincount(s.item[s.known(TRAIN)], minlength=s.num_items).astype(float)
    m = evaluate(lambda users, hist: np.tile(pop, (len(users), 1)), s, VAL)
    for k in ("HR@5", "HR@10", "HR@20", "NDCG@10", "MRR@10"):
        assert m["removed"][k] >= m["kept"][k]
    assert m["removed"]["n"] == s.num_users


def test_temporal_top_n_chooses_on_its_own_validation_and_never_reads_its_test_movies():
    r = small(n_users=40)
    out = temporal_top_n(r, TINY, baselines=["popularity", "transition"], grids={"transition": {"alpha": (1.0, 1e4)}})
    assert set(out) == {"popularity", "transition", "lstm"}
    for m in out.values():
        assert 0 <= m["users_with_hit"] <= 1 and m["n"] == 40
    # move every temporal test rating to another unseen movie: no choice may move
    split = temporal_split(r)
    s = sequences_from_split(r, split)
    item = r.item.copy()
    rng = np.random.default_rng(0)
    for u in range(s.num_users):
        seen = s.item_ids[s.item[s.offsets[u] : s.offsets[u + 1]]]
        rows = s.row[s.offsets[u] : s.offsets[u + 1]][s.part[s.offsets[u] : s.offsets[u + 1]] == TEST]
        item[rows] = rng.choice(np.setdiff1d(s.item_ids, seen), len(rows), replace=False)
    moved = Ratings(r.user, item, r.rating, r.timestamp, r.titles)
    again = temporal_top_n(moved, TINY, baselines=["popularity", "transition"],
                           grids={"transition": {"alpha": (1.0, 1e4)}})
    assert {k: v["choice"] for k, v in out.items()} == {k: v["choice"] for k, v in again.items()}


# --------------------------------------------------------------------------- the saved model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("next") / "run"
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--out", str(out),
                 "--no-progress"]) == 0
    return out


def test_the_saved_model_loads_without_the_data_and_scores_the_same(saved, monkeypatch):
    import lstm_np.recommender.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_data", lambda *a, **k: pytest.fail("loading a model read the data set"))
    model = NextItemRecommender.load(saved)
    metrics = json.loads((saved / "metrics.json").read_text())
    assert metrics["task"] == "next-item" and set(metrics["summary"]) >= {"popularity", "lstm", "ease", "bprmf"}
    from lstm_np.recommender.nextitem_pipeline import markdown_table

    table = markdown_table(metrics).splitlines()
    assert len(table) == 2 + 6 and table[-1].startswith("| LSTM next-item |")
    assert f"{metrics['summary']['lstm']['test']['removed']['HR@10'][0]:.3f}" in table[-1]
    hist = model.history(1)
    assert np.allclose(model.scores(user=1), model.scores(history=hist.tolist()))
    recs = model.recommend(user=1, top=5)
    assert len(recs) == 5 and not set(r[0] for r in recs) & set(hist.tolist())
    assert all(recs[k][2] >= recs[k + 1][2] for k in range(4))
    # tuples are sorted by time; ratings are ignored
    shuffled = [(int(i), 100 - k, 4.0) for k, i in enumerate(hist[::-1])]
    assert np.allclose(model.scores(history=shuffled), model.scores(user=1))


def test_the_saved_model_refuses_bad_requests(saved):
    model = NextItemRecommender.load(saved)
    with pytest.raises(ValueError, match="unknown item id"):
        model.recommend(history=[1, 2, 99999])
    with pytest.raises(ValueError, match="user 4242 is not known"):
        model.recommend(user=4242)
    with pytest.raises(ValueError, match="top must be a positive integer"):
        model.recommend(user=1, top=0)
    with pytest.raises(ValueError, match="exactly one"):
        model.recommend(user=1, history=[1])
    with pytest.raises(ValueError, match="not a mix"):
        model.recommend(history=[1, (2, 5)])


def test_an_edited_model_file_is_refused(saved, tmp_path):
    import shutil

    for f in ("model.npz", "model.json"):
        shutil.copy(saved / f, tmp_path / f)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["meta"]["config"]["hidden_size"] = 3
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(io.ModelFileError):
        NextItemRecommender.load(tmp_path)


def test_recommend_command_and_its_errors(saved, capsys):
    assert main(["recommend", str(saved), "--user", "1", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "next-item model" in out and "most popular unseen" in out and " 3. " in out
    assert main(["recommend", str(saved), "--user", "99999"]) == 2
    assert "not known" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["recommend", str(saved), "--user", "1", "--top", "0"])


def test_a_rating_model_is_not_a_next_item_model(tmp_path):
    from lstm_np.recommender.hybrid import SequenceConfig
    from lstm_np.recommender.pipeline import run

    run("synthetic", SequenceConfig(hidden_size=4, window=8, epochs=1, patience=1, dtype="float64"), tmp_path / "r",
        log=None, plot=False, mf_grid={"factors": (2,), "reg": (0.1,)})
    with pytest.raises(io.ModelFileError, match="not a next-item model"):
        NextItemRecommender.load(tmp_path / "r")


def test_train_refuses_options_of_the_other_task(tmp_path, capsys):
    assert main(["train", "--task", "next-item", "--window", "5", "--out", str(tmp_path / "x")]) == 2
    assert "rating task" in capsys.readouterr().err
    assert main(["train", "--no-tied", "--out", str(tmp_path / "y")]) == 2
    assert main(["train", "--task", "next-item", "--tied", "--embed-dim", "8", "--hidden-size", "16",
                 "--out", str(tmp_path / "z")]) == 2
    assert "tied=True needs" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()


def test_evaluate_scores_the_saved_model_again_from_the_data(saved, capsys):
    assert main(["evaluate", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "seen items removed" in out and "seen items kept" in out and "note:" not in out
    metrics = json.loads((saved / "metrics.json").read_text())
    hr = metrics["per_seed"][0]["rows"]["lstm"]["test"]["removed"]["HR@10"]
    assert f"{hr:.4f}" in out


def test_rating_model_refuses_histories_with_nan_ratings(tmp_path):
    import dataclasses

    from lstm_np.recommender.hybrid import SequenceConfig
    from lstm_np.recommender.pipeline import load_model, run

    run("synthetic", SequenceConfig(hidden_size=4, window=8, epochs=1, patience=1, dtype="float64"), tmp_path / "r",
        log=None, plot=False, mf_grid={"factors": (2,), "reg": (0.1,)})
    model, (_, h), _ = load_model(tmp_path / "r")
    rating = h.rating.copy()
    rating[5] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        model.predict_test(dataclasses.replace(h, rating=rating))
    with pytest.raises(ValueError, match="NaN or inf"):
        model.recommend(dataclasses.replace(h, rating=rating), 0)


@pytest.mark.parametrize("cell", ["gru", "rnn", "coupled", "peephole", "slstm", "minlstm", "mingru"])
def test_any_recurrent_layer_can_be_the_next_item_models_layer(cell):
    s = leave_one_out(small(n_users=30))
    net = NextItemNet(s.num_items, TINY.replace(cell=cell))
    fit = train_next_item(net, s.histories(TRAIN), epochs=1)
    assert np.isfinite(fit.history[-1]["loss"])
    scores = net.score(s.histories(TRAIN)[:3])
    assert scores.shape == (3, s.num_items) and np.isfinite(scores).all()


def test_bad_next_item_settings_name_the_setting():
    for bad, name in (({"dropout": 1.0}, "dropout"), ({"lr": float("nan")}, "lr"), ({"hidden_size": 2.5}, "hidden_size"),
                      ({"seed": -1}, "seed"), ({"cell": "transformer"}, "cell"), ({"bptt": 0}, "bptt")):
        with pytest.raises(ValueError, match=name):
            NextItemConfig(**bad)


def test_the_epoch_chosen_is_the_best_smoothed_one_and_patience_stops_training():
    s = leave_one_out(small(n_users=20))
    curve = iter([0.1, 0.5, 0.2, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1])
    seen = []

    def val(net):
        seen.append(net.params["embedding.W"].copy())
        return {"NDCG@10": next(curve)}

    net = NextItemNet(s.num_items, TINY)
    fit = train_next_item(net, s.histories(TRAIN), epochs=8, val=val, patience=2)
    # smoothed: 0.1 (alone), 0.35, 0.533, 0.4, 0.367, ...: epoch 2 (between 0.5 and 0.9), not the lone spike at 3
    assert fit.best_epoch == 2
    assert [r["epoch"] for r in fit.history] == [0, 1, 2, 3, 4, 5]  # stopped two smoothed epochs after the best
    assert np.array_equal(net.params["embedding.W"], seen[2])


def test_plain_lstm_np_prints_help_and_version_prints_the_version(capsys):
    import lstm_np

    assert main([]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "recommend" in out and "usage: lstm-np" in out
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and lstm_np.__version__ in capsys.readouterr().out


def test_one_epoch_that_beats_the_untrained_net_is_kept():
    s = leave_one_out(small(n_users=20))
    curve = iter([0.1, 0.3])
    net = NextItemNet(s.num_items, TINY)
    assert train_next_item(net, s.histories(TRAIN), epochs=1, val=lambda n: {"NDCG@10": next(curve)}).best_epoch == 1


def test_a_run_of_several_seeds_saves_the_first_seeds_model_with_its_own_numbers(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--seeds", "3", "4",
                 "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [p["seed"] for p in metrics["per_seed"]] == [3, 4]
    model = NextItemRecommender.load(out)
    first = metrics["per_seed"][0]["rows"]
    assert model.meta["metrics"]["test_HR@10"] == {k: v["test"]["removed"]["HR@10"] for k, v in first.items()}
    hrs = [p["rows"]["lstm"]["test"]["removed"]["HR@10"] for p in metrics["per_seed"]]
    assert metrics["summary"]["lstm"]["test"]["removed"]["HR@10"] == pytest.approx([np.mean(hrs), np.std(hrs, ddof=1)])
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert "note:" not in capsys.readouterr().out  # the saved model scores what was measured for it


def test_quick_keeps_the_options_given(tmp_path):
    out = tmp_path / "q"
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--epochs", "2", "--hidden-size",
                 "12", "--out", str(out), "--no-progress"]) == 0
    cfg = json.loads((out / "metrics.json").read_text())["config"]
    assert cfg["epochs"] == 2 and cfg["hidden_size"] == 12 and cfg["embed_dim"] == 12  # tied: one size sets both


def test_training_and_scoring_refuse_bad_ids_before_changing_anything():
    net = NextItemNet(7, TINY)
    before = {k: v.copy() for k, v in net.params.items()}
    state = net.rng.bit_generator.state
    for bad in ([np.array([1, 2, 3, 4]), np.array([5, 9])], [np.array([1.5, 2.7, 3.0])], [["1", "2", "3"]],
                [np.array([1, -1, 2])], "123", [np.array([[1, 2], [3, 4]])]):
        with pytest.raises((ValueError, TypeError)):
            train_next_item(net, bad, epochs=1)
        with pytest.raises((ValueError, TypeError)):
            net.score(bad)
    for kwargs in ({"epochs": 0}, {"epochs": 1, "patience": 0}, {"epochs": True}):
        with pytest.raises(ValueError):
            train_next_item(net, [np.array([1, 2, 3])], **kwargs)
    with pytest.raises(ValueError, match="batch_size"):
        net.score([[1, 2]], batch_size=-1)
    assert all(np.array_equal(v, before[k]) for k, v in net.params.items())
    assert net.rng.bit_generator.state == state


def test_numpy_numbers_in_the_settings_can_be_saved():
    cfg = NextItemConfig(embed_dim=np.int64(8), hidden_size=np.int64(8), lr=np.float32(0.01))
    assert type(cfg.embed_dim) is int and type(cfg.lr) is float
    json.dumps(cfg.__dict__)


@pytest.mark.parametrize("call", [
    lambda: ranking_metrics(np.array([1.0, np.nan])),
    lambda: ranking_metrics(np.array([1.5, 2.0])),
    lambda: ranking_metrics(np.array([1, 2]), ks=(0,)),
    lambda: ranking_metrics(np.array([1, 2]), ks=(2.5,)),
    lambda: pessimistic_top(np.ones((1, 4)), 2, exclude=np.array([[0, 1, 1, 0]])),  # an int mask
    lambda: pessimistic_top(np.ones((1, 4)), -1),
    lambda: pessimistic_top(np.ones((1, 4)), 2, relevant=np.ones((2, 4), bool)),
    lambda: top_n_metrics(np.ones((1, 4)), np.ones((1, 4), bool), n=0),
    lambda: top_n_metrics(np.ones((1, 4)), np.zeros((1, 4), bool)),
    lambda: top_n_metrics(np.ones((1, 4)), np.ones((1, 3), bool)),
    lambda: exclusion_mask([np.array([-1])], 4),
    lambda: exclusion_mask([np.array([1.7])], 4),
    lambda: exclusion_mask([np.array([4])], 4),
    lambda: target_ranks(np.ones((2, 3)), np.array([0, 1]), exclude=np.zeros((2, 3), int)),
])
def test_ranking_helpers_refuse_nonsense(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("edit", [
    lambda j: j["meta"].update(metrics="oops"),
    lambda j: j["meta"]["metrics"]["test_HR@10"].update(lstm="high"),
])
def test_edited_metrics_in_a_next_item_model_are_refused(saved, tmp_path, edit):
    import shutil

    for f in ("model.npz", "model.json"):
        shutil.copy(saved / f, tmp_path / f)
    j = json.loads((tmp_path / "model.json").read_text())
    edit(j)
    (tmp_path / "model.json").write_text(json.dumps(j))
    with pytest.raises(io.ModelFileError, match="metrics"):
        NextItemRecommender.load(tmp_path)


def test_float_histories_in_a_resaved_model_are_refused(saved, tmp_path):
    data, meta = io.load(saved / "model")
    data = dict(data)
    data["history.items"] = data["history.items"].astype(np.float64) + 0.5
    io.save(tmp_path / "model", data, meta)
    with pytest.raises(io.ModelFileError, match="history.items"):
        NextItemRecommender.load(tmp_path)


def test_the_saved_model_refuses_odd_histories_and_flags(saved):
    model = NextItemRecommender.load(saved)
    for bad, err in (({1, 2}, TypeError), (50, TypeError), ([2**70], ValueError), ("12", TypeError)):
        with pytest.raises(err):
            model.recommend(history=bad)
    with pytest.raises(TypeError, match="exclude_seen"):
        model.recommend(user=1, exclude_seen="no")
    with pytest.raises(TypeError, match="NextItemConfig"):
        NextItemNet(5, {"embed_dim": 6})
    with pytest.raises(TypeError, match="Ratings"):
        leave_one_out(None)


def test_a_refused_forward_or_loss_leaves_the_dropout_generator_as_it_was():
    net = NextItemNet(9, TINY.replace(dropout=0.5))
    ids = np.array([[1, 2, 3], [4, 5, 6]])
    state = net.rng.bit_generator.state
    for call in (lambda: net.loss(ids, np.array([[1, 2, 3], [4, 5, 99]])),             # a target out of range
                 lambda: net.loss(ids, ids, np.ones((2, 4))),                           # a mask of the wrong shape
                 lambda: net.forward(ids, None, [(np.zeros((3, 8)), np.zeros((3, 8)))], train=True),  # wrong state
                 lambda: net.forward(np.array([1, 2, 3]), train=True)):
        with pytest.raises((ValueError, TypeError)):
            call()
        assert net.rng.bit_generator.state == state
    net.loss(ids, ids)  # a good call draws its masks
    assert net.rng.bit_generator.state != state
