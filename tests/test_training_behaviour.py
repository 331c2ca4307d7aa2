"""Training loops on small seeded data where the right answer is known.

Every gradient check can pass while a training loop quietly stops learning
what the README says it learns: the state not carried from one chunk to the
next, targets not shifted by one, the epoch count chosen one off, the last
epoch's parameters kept instead of the best one's, a head that does not
start at zero. Each test below fails for one such mistake (the mutation it
was checked against is named in its docstring).
"""

import dataclasses

import numpy as np
import pytest

from lstm_np import LSTM
from lstm_np.charlm import CharLM, evaluate_bpc, train_char_model
from lstm_np.data import TRAIN, VAL, make_synthetic, temporal_split
from lstm_np.data.sequences import leave_one_out
from lstm_np.losses import softmax_cross_entropy
from lstm_np.recommender.baselines import rmse
from lstm_np.recommender.hybrid import (FEATURES, CorrectionNet, SequenceConfig, build_histories, make_cutset,
                                        predict_cuts, score_cuts, train_corrector)
from lstm_np.recommender.mf import MatrixFactorization, fit_mf
from lstm_np.recommender.protocol import fit_base, fit_sequence, run_protocol

LN2 = np.log(2.0)


def lstm64(D, H, rng):
    return LSTM(D, H, rng=rng)  # float64


def tiny_char(text, **settings):
    base = dict(embed_dim=8, hidden_size=16, batch_size=8, lr=0.03, lr_final=0.003, eval_every=10_000,
                sample_every=10_000, sample_len=0, seed=0)
    return train_char_model(lstm64, text, **{**base, **settings})


# --------------------------------------------------------------------------- the character model


def test_a_text_whose_next_character_is_determined_is_learned_to_near_zero_bits():
    """A cycle of 8 characters: each character determines the next. Caught: targets not shifted by one
    (each character "predicting" itself learns a training loss of zero too, but scores ~9 bits on held-out)."""
    r = tiny_char("abcdefgh" * 600, seq_len=8, steps=150)
    assert len(r.train_bpc) == 150 and 0 < r.seconds_per_step * 150 < r.wall_s < 600  # every step ran, and timed
    assert np.mean(r.train_bpc[-10:]) < 0.02, r.train_bpc[-10:]
    assert r.bpc < 0.1, r.bpc              # held-out, scored by evaluate_bpc (its own shift)
    assert r.train_bpc[0] > 2.5             # it started near log2(8) = 3 bits: it learned this


def test_the_state_is_carried_from_one_chunk_to_the_next():
    """"aab" repeated, read 2 characters at a time: after an "a" the next character depends on the one before,
    which for the first character of every chunk lies in the previous chunk. Started from a zero state, a chunk's
    first prediction stays a coin flip two times in three: at least 1/3 bit per character. Caught: the state not
    passed on (training loss stuck at 0.33, held-out 7.5 bits)."""
    r = tiny_char("aab" * 2000, seq_len=2, steps=400)
    assert np.mean(r.train_bpc[-20:]) < 0.05, np.mean(r.train_bpc[-20:])
    assert r.bpc < r.bigram_bpc - 0.2, (r.bpc, r.bigram_bpc)


def test_dropout_and_clipping_are_applied_while_training():
    """Two layers (dropout acts between them): with dropout the very first training loss differs (masks drawn,
    train=True); a tiny clip changes the curve from the third step on (Adam's first steps do not see the scale).
    Caught: training run with train=False, or the gradient not clipped."""
    text = "the quick brown fox jumps over the lazy dog. " * 40
    plain = tiny_char(text, seq_len=8, steps=4, num_layers=2)
    dropped = tiny_char(text, seq_len=8, steps=4, num_layers=2, dropout=0.5)
    clipped = tiny_char(text, seq_len=8, steps=4, num_layers=2, clip=1e-6)
    assert dropped.train_bpc[0] != plain.train_bpc[0]
    assert clipped.train_bpc[0] == plain.train_bpc[0] and clipped.train_bpc[2:] != plain.train_bpc[2:]


def _one_forward_bpc(model, ids):
    """-log2 p of every next character, from one forward pass over the whole text (one stream, no chunks)."""
    z, _, _ = model.logits(ids[None, :-1], None, train=False)
    loss, _ = softmax_cross_entropy(z, ids[None, 1:])
    return loss / LN2


def test_evaluate_bpc_carries_the_state_and_scores_the_next_character():
    """Read in chunks of 3 with the state carried, one stream: exactly one forward over the whole text.
    Caught: evaluate_bpc restarting each chunk from zero, or scoring each character against itself."""
    model = CharLM(5, lstm64, embed_dim=3, hidden_size=6, rng=0)
    for v in model.params.values():
        v += 0.5 * np.random.default_rng(1).standard_normal(v.shape)
    ids = np.random.default_rng(2).integers(0, 5, 40)
    expected = _one_forward_bpc(model, ids)
    assert evaluate_bpc(model, ids, batch_size=1, seq_len=3) == pytest.approx(expected, abs=1e-12)
    assert evaluate_bpc(model, ids, batch_size=1, seq_len=1000) == pytest.approx(expected, abs=1e-12)
    # control: a model that is not at its optimum scores a shifted text differently
    assert abs(_one_forward_bpc(model, np.r_[ids[:1], ids]) - expected) > 1e-3


# --------------------------------------------------------------------------- matrix factorisation


@pytest.fixture(scope="module")
def histories():
    r = make_synthetic(n_users=60, n_items=30, min_len=20, max_len=30, seed=0)
    return r, build_histories(r, temporal_split(r))


def _parts(h):
    tr, va = h.known(2), h.known(1) & ~h.known(2)
    return (h.user[tr], h.item[tr], h.rating[tr]), (h.user[va], h.item[va], h.rating[va])


# lr 0.01 on this data: validation RMSE falls for 3 epochs, then rises (1.3862, 1.3716, 1.3673, 1.3678, ...)
MF_POINT = {"factors": (4,), "lr": (0.01,), "reg": (0.02,), "reg_bias": (0.0,)}


def test_fit_mf_chooses_the_epoch_with_the_best_recorded_validation_score(histories):
    """The curve recorded by one continuous fit (``fit(..., val=)``) has its minimum at one epoch; fit_mf must
    choose that epoch and report that score. Caught: the chosen epoch count off by one in either direction."""
    _, h = histories
    train, val = _parts(h)
    m = MatrixFactorization(h.num_users, h.num_items, 4, rng=0)
    curve = m.fit(*train, epochs=12, lr=0.01, reg=0.02, reg_bias=0.0, batch_size=64, rng=0, val=val)
    k = int(np.argmin(curve))
    assert 0 < k < 11 and curve[k] < curve[k - 1] and curve[k] < curve[k + 1]  # an interior, strict minimum
    best, table = fit_mf(h.num_users, h.num_items, train, val, grid=MF_POINT, max_epochs=12, patience=12,
                         batch_size=64, seed=0)
    assert best["epochs"] == k + 1 and best["val_rmse"] == curve[k]
    assert table == [best]
    short, _ = fit_mf(h.num_users, h.num_items, train, val, grid=MF_POINT, max_epochs=k, patience=12, batch_size=64,
                      seed=0)  # the budget ends before the minimum: its last epoch is the best one it saw
    assert short["epochs"] == k and short["val_rmse"] == curve[k - 1]


def test_the_protocols_mf_refit_uses_exactly_the_chosen_epochs_on_train_and_validation(histories):
    """run_protocol's MF: its validation row is the chosen fit's score, and the refitted base equals a fresh MF
    fitted on train + validation for exactly the chosen epoch count. Caught: the refit one epoch off."""
    r, h = histories
    res = run_protocol(r, SequenceConfig(seed=0), mf_grid=MF_POINT, sequence=False, log=None)
    choice = res.rows["mf"]["choice"]
    assert res.rows["mf"]["val"]["rmse"] == choice["val_rmse"]
    k = h.known(1)

    def fitted(epochs):
        m = MatrixFactorization(h.num_users, h.num_items, choice["factors"], rng=0)
        m.fit(h.user[k], h.item[k], h.rating[k], epochs=epochs, lr=choice["lr"], reg=choice["reg"],
              reg_bias=choice["reg_bias"], rng=0)
        return m

    for name, v in fitted(choice["epochs"]).params.items():
        np.testing.assert_array_equal(res.base.params[name], v, err_msg=name)
    assert not np.array_equal(fitted(choice["epochs"] + 1).params["P"], res.base.params["P"])


# --------------------------------------------------------------------------- the rating model's correction net

NET = SequenceConfig(hidden_size=8, window=8, epochs=12, patience=3, batch_size=8, lr=0.03, dtype="float64")
CHOICE = {"factors": 2, "lr": 0.02, "reg": 0.1, "reg_bias": 0.01, "epochs": 3}


@pytest.fixture(scope="module")
def bases(histories):
    _, h = histories
    models = {lv: fit_base("mf", h, lv, CHOICE) for lv in range(1, 3 + NET.cuts)}
    return models, {lv: m.predict(h.user, h.item) for lv, m in models.items()}, {lv: m.mu for lv, m in models.items()}


def test_the_untrained_correction_net_predicts_the_base_exactly(histories, bases):
    """The head starts at zero: corrections of exactly 0 for any input, predictions equal to the clipped base,
    and epoch 0 of choosing scores the base itself. Caught: the head's weights not zeroed."""
    _, h = histories
    _, pred, mus = bases
    net = CorrectionNet(hidden_size=8, rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((3, 7, len(FEATURES)))
    corr, _ = net.forward(x)
    assert corr.shape == (3, 7) and np.all(corr == 0.0)
    val_cuts = make_cutset(h, [2], 8)
    rows, p, target = predict_cuts(net, h, pred, mus, val_cuts)
    va = h.known(1) & ~h.known(2)
    assert sorted(rows) == sorted(h.row[va])
    by_row = dict(zip(h.row, pred[2]))
    np.testing.assert_array_equal(p, np.clip([by_row[k] for k in rows], 1, 5))
    log = train_corrector(net, h, pred, mus, make_cutset(h, [3], 8), dataclasses.replace(NET, epochs=1),
                          val_cuts=val_cuts, log=None)
    assert log.history[0]["val_rmse"] == pytest.approx(rmse(pred[2][va], h.rating[va]), abs=1e-12)


def test_the_correction_net_keeps_the_best_validation_epochs_parameters(histories, bases):
    """Choosing stops `patience` epochs after the best one; the net must hold the best epoch's parameters, so it
    scores the best recorded validation RMSE, not the last one. Caught: the last epoch's parameters kept."""
    _, h = histories
    _, pred, mus = bases
    net = CorrectionNet(hidden_size=8, rng=0, dtype=np.float64)
    val_cuts = make_cutset(h, [2], 8)
    log = train_corrector(net, h, pred, mus, make_cutset(h, range(3, 3 + NET.cuts), 8), NET, val_cuts=val_cuts,
                          log=None)
    curve = [e["val_rmse"] for e in log.history]
    assert [e["epoch"] for e in log.history] == list(range(len(curve)))  # epoch 0 (untrained), 1, 2, ...
    assert log.best_epoch == int(np.argmin(curve)) and log.best_val_rmse == min(curve)
    assert 0 < log.best_epoch < len(curve) - 1 and curve[-1] > min(curve)  # it stopped after a worse epoch
    assert len(curve) - 1 == log.best_epoch + NET.patience < NET.epochs  # stopped exactly `patience` epochs later
    assert all(e["train_mse"] > 0 for e in log.history[1:])
    assert score_cuts(net, h, pred, mus, val_cuts)["rmse"] == log.best_val_rmse


def test_the_sequence_refit_trains_a_fresh_net_exactly_the_chosen_epochs(histories, bases):
    """fit_sequence: the chosen count is the best recorded epoch, its validation score that epoch's, and the refit
    is a fresh net trained exactly that many epochs on the cuts one stretch later. Caught: the refit one off."""
    _, h = histories
    models, pred, mus = bases
    fit = fit_sequence(h, models, NET)
    curve = [e["val_rmse"] for e in fit.history]
    assert fit.epochs == int(np.argmin(curve)) >= 1 and fit.val["rmse"] == min(curve)

    def refitted(epochs):
        net = CorrectionNet(hidden_size=NET.hidden_size, rng=NET.seed, dtype=np.float64)
        log = train_corrector(net, h, pred, mus, make_cutset(h, range(2, 2 + NET.cuts), NET.window), NET,
                              epochs=epochs, log=None)
        assert [e["epoch"] for e in log.history] == list(range(1, epochs + 1))  # that many epochs, no more
        return net

    for name, v in refitted(fit.epochs).params.items():
        np.testing.assert_array_equal(fit.net.params[name], v, err_msg=name)
    assert not np.array_equal(refitted(fit.epochs + 1).params["head.W"], fit.net.params["head.W"])


# --------------------------------------------------------------------------- the next-item model and the baselines


@pytest.fixture(scope="module")
def seqs():
    return leave_one_out(make_synthetic(n_users=80, n_items=24, min_len=12, max_len=20, p_follow=0.9, seed=0))


def test_bpr_mf_is_chosen_at_its_best_recorded_epoch_and_refitted_for_exactly_that_many(seqs):
    """choose_and_refit("bprmf"): the chosen epochs are the argmax of the curve BPR-MF recorded, and the refitted
    model equals a fresh BPR-MF trained that many epochs on train + validation. Caught: the refit using the grid's
    epoch budget instead of the chosen count, or one more."""
    from lstm_np.recommender import ranking_baselines as rb
    from lstm_np.recommender.nextitem_protocol import choose_and_refit, evaluate

    grid = {"factors": (4,), "reg": (0.01,), "lr": (0.05,), "epochs": (12,), "patience": (3,)}
    row, refit = choose_and_refit("bprmf", seqs, grid=grid, seed=0)
    chosen = rb.make("bprmf", seqs.num_items, factors=4, reg=0.01, lr=0.05, epochs=12, patience=3).fit(
        seqs, TRAIN, rng=0, val=lambda m: evaluate(m.score, seqs, VAL)["removed"]["NDCG@10"])
    e = row["choice"]["epochs"]
    assert e == int(np.argmax(chosen.history_)) and 1 <= e < 12
    assert row["val"]["removed"]["NDCG@10"] == max(chosen.history_)

    def fresh(epochs):
        return rb.make("bprmf", seqs.num_items, **{**row["choice"], "epochs": epochs}).fit(seqs, VAL, rng=0)

    for name, v in fresh(e).params.items():
        np.testing.assert_array_equal(refit.params[name], v, err_msg=name)
    assert not np.array_equal(fresh(e + 1).params["Q"], refit.params["Q"])


# --------------------------------------------------------------------------- the laboratory's adding task


def test_the_laboratorys_adding_task_learns_with_a_variant_cell():
    """train_adding with a cell variant (the laboratory's path, VariantLSTM on the reference steps) learns the
    adding problem at T = 8 to a small fraction of the 1/6 of always predicting 1. Caught: the cell's backward
    not called (only the head learns), the optimizer not stepping."""
    from lstm_np.studies.adding import _test_set, train_adding
    from lstm_np.studies.settings import Settings

    s = Settings(hidden_size=8, lengths=(8,), seeds=(0,), steps=250, batch_size=32, lr=2e-2, n_test=300,
                 flow_length=8)
    _, losses, mse = train_adding("lstm", 8, 0, s)
    baseline = float(np.mean((_test_set(8, s)[1] - 1.0) ** 2))
    assert mse < 0.15 * baseline, (mse, baseline)
