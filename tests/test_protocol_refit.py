"""Every reported model of both recommender tasks is refitted on train + validation.

The README's protocol: choose on validation fitting on train, **refit on train + validation**, score test once.
A refit on train alone changes no gradient and no validation number; it is seen only in the refitted model. So
each test changes a few validation ratings (or items) such that no choice moves (asserted: the test is about the
refit, not the choosing), and requires that every model's *refitted* predictions move, read where the refit alone
can make them move (for the models that read the history, on inputs that do not contain the validation data).
Checked against each mutation "refit on train only" (the bias model, MF, the correction net, each ranking
baseline, the recurrent next-item models, and each model on the temporal split).
"""

import dataclasses

import numpy as np
import pytest

from lstm_np.data import TRAIN, VAL, Ratings, make_synthetic, temporal_split
from lstm_np.data.sequences import leave_one_out, sequences_from_split
from lstm_np.recommender import nextitem_protocol
from lstm_np.recommender import ranking_baselines as rb
from lstm_np.recommender.hybrid import SequenceConfig
from lstm_np.recommender.nextitem import NextItemConfig
from lstm_np.recommender.nextitem_protocol import run_next_item_protocol, temporal_top_n
from lstm_np.recommender.protocol import run_protocol

# --------------------------------------------------------------------------- the rating task

# One epoch at most: chosen (it beats the untrained net on validation) however the nudge moves the curve.
RATING_NET = SequenceConfig(hidden_size=8, window=8, epochs=1, patience=1, batch_size=8, lr=0.03, dtype="float64")
MF_GRID = {"factors": (2,), "reg": (0.1,)}


def _rating_data():
    return make_synthetic(n_users=60, n_items=30, min_len=20, max_len=30, seed=0)


def _nudge_validation(r, users=2):
    """The same ratings, with the validation ratings of the first ``users`` users moved by one star."""
    split = temporal_split(r)
    rows = split.val[np.isin(r.user[split.val], np.unique(r.user)[:users])]
    rating = r.rating.copy()
    rating[rows] = np.where(rating[rows] >= 3, rating[rows] - 1, rating[rows] + 1)
    return Ratings(r.user, r.item, rating, r.timestamp, r.titles), rows


@pytest.fixture(scope="module", params=["mf", "bias"])
def rating_runs(request):
    r = _rating_data()
    nudged, rows = _nudge_validation(r)
    assert len(rows) > 0
    go = lambda ratings: run_protocol(ratings, RATING_NET, base=request.param, mf_grid=MF_GRID, log=None)  # noqa
    return go(r), go(nudged)


def test_no_choice_moves_with_the_nudge(rating_runs):
    a, b = rating_runs
    for name in ("bias", "mf", "sequence"):
        chosen = lambda run: {k: v for k, v in run.rows[name]["choice"].items() if k != "val_rmse"}  # noqa: E731
        assert chosen(a) == chosen(b), name
    assert a.rows["sequence"]["choice"]["epochs"] >= 1  # a refit that trains, so that it can read validation


@pytest.mark.parametrize("name", ["global_mean", "bias", "mf", "sequence"])
def test_each_rating_models_refit_reads_the_validation_ratings(rating_runs, name):
    a, b = rating_runs
    rows_a, pred_a = a.test_predictions[name]
    rows_b, pred_b = b.test_predictions[name]
    np.testing.assert_array_equal(rows_a, rows_b)
    assert not np.array_equal(pred_a, pred_b), name


def test_the_refitted_correction_net_learned_from_the_validation_ratings(rating_runs):
    """The net's test predictions read the validation ratings as history in any case; its *parameters* move only
    if its refit trained on them (the cuts one stretch later, whose targets are the validation ratings)."""
    a, b = rating_runs
    assert set(a.net.params) == set(b.net.params)
    assert any(not np.array_equal(a.net.params[k], b.net.params[k]) for k in a.net.params)
    # and the refitted base (what the net corrects) is the train + validation one
    assert not np.array_equal(a.base.params["b_user"], b.base.params["b_user"])


# --------------------------------------------------------------------------- the next-item task

NEXT = NextItemConfig(embed_dim=8, hidden_size=8, epochs=4, patience=4, batch_size=16, lr=2e-2, dtype="float64",
                      attention="dot")
GRIDS = {"itemknn": {"k": (10,), "shrink": (0.0,)}, "transition": {"alpha": (1.0,)},
         "bprmf": {"factors": (4,), "reg": (0.01,), "lr": (0.05,), "epochs": (6,)}, "ease": {"lam": (10.0,)}}


def _next_item_data():
    return make_synthetic(n_users=80, n_items=24, min_len=12, max_len=20, p_follow=0.9, seed=0)


def _move_items(r, rows, seqs_like, rng):
    """The same ratings with the interactions ``rows`` moved to items their user has not seen (times are strictly
    increasing per user in make_synthetic, so no user's order changes)."""
    item = r.item.copy()
    for row in rows:
        seen = r.item[r.user == r.user[row]]
        item[row] = rng.choice(np.setdiff1d(seqs_like.item_ids, seen))
    return Ratings(r.user, item, r.rating, r.timestamp, r.titles)


@pytest.fixture(scope="module")
def next_item_runs():
    r = _next_item_data()
    s = leave_one_out(r)
    val_rows = s.row[s.part == VAL][:12]
    s2 = leave_one_out(_move_items(r, val_rows, s, np.random.default_rng(0)))
    assert not np.array_equal(s.item[s.part == VAL], s2.item[s2.part == VAL])
    np.testing.assert_array_equal(s.item[s.part == TRAIN], s2.item[s2.part == TRAIN])
    return s, run_next_item_protocol(s, NEXT, grids=GRIDS, log=None), run_next_item_protocol(s2, NEXT, grids=GRIDS,
                                                                                               log=None)


MODELS = list(rb.MODELS) + ["lstm", "lstm_attention"]


def test_every_next_item_model_is_reported_and_no_choice_moves(next_item_runs):
    _, (rows1, _), (rows2, _) = next_item_runs
    assert set(rows1) == set(MODELS)
    for name in rows1:
        assert rows1[name]["choice"] == rows2[name]["choice"], name
    for name in ("bprmf", "lstm", "lstm_attention"):
        assert rows1[name]["choice"]["epochs"] >= 1, name  # refits that train


@pytest.mark.parametrize("name", MODELS)
def test_each_next_item_models_refit_reads_the_validation_interactions(next_item_runs, name):
    """Scored on the train histories (the same in both runs), the refitted models differ."""
    s, (_, models1), (_, models2) = next_item_runs
    users, hist = np.arange(s.num_users), s.histories(TRAIN)
    assert not np.array_equal(models1[name].score(users, hist), models2[name].score(users, hist)), name


# --------------------------------------------------------------------------- the temporal split's top-N lists

TEMPORAL_NEXT = NEXT.replace(attention="none")


def _temporal_refits(ratings, monkeypatch):
    """temporal_top_n, recording every model it builds; the last one built for a name is its refit."""
    built = {}
    make, make_net = rb.make, nextitem_protocol.make_net

    def recording_make(name, *args, **kwargs):
        built.setdefault(name, []).append(make(name, *args, **kwargs))
        return built[name][-1]

    def recording_make_net(*args, **kwargs):
        built.setdefault("lstm", []).append(make_net(*args, **kwargs))
        return built["lstm"][-1]

    monkeypatch.setattr(rb, "make", recording_make)
    monkeypatch.setattr(nextitem_protocol, "make_net", recording_make_net)
    out = temporal_top_n(ratings, TEMPORAL_NEXT, grids=GRIDS)
    monkeypatch.undo()
    return out, {name: models[-1] for name, models in built.items()}


def test_each_model_on_the_temporal_split_is_refitted_on_train_and_validation(monkeypatch):
    r = _next_item_data()
    split = temporal_split(r)
    s = sequences_from_split(r, split)
    moved = _move_items(r, split.val[:40], s, np.random.default_rng(1))
    out1, refits1 = _temporal_refits(r, monkeypatch)
    out2, refits2 = _temporal_refits(moved, monkeypatch)
    assert set(refits1) == set(out1) == set(MODELS[:-1])
    hist = s.histories(TRAIN)
    users = np.arange(s.num_users)
    for name in refits1:
        assert out1[name]["choice"] == out2[name]["choice"], name
        if name == "lstm":
            a, b = refits1[name].score(hist), refits2[name].score(hist)
        else:
            a, b = refits1[name].score(users, hist), refits2[name].score(users, hist)
        assert not np.array_equal(a, b), name
    for name in ("bprmf", "lstm"):
        assert out1[name]["choice"]["epochs"] >= 1, name
