"""The top-N baselines: each model's numbers by hand on tiny data, BPR's gradients and training, the grids.

No network and no MovieLens: small hand-made sequences, and the synthetic
order-dependent data set.
"""

import numpy as np
import pytest

from lstm_np.data import TRAIN, VAL, Ratings, make_synthetic
from lstm_np.data.sequences import leave_one_out
from lstm_np.gradcheck import TOLERANCE, check_gradients
from lstm_np.recommender.nextitem_protocol import evaluate
from lstm_np.recommender import ranking_baselines as rb
from lstm_np.recommender.ranking_baselines import (BPRMF, EASE, GRIDS, MODELS, ItemKNN, Popularity, Transition,
                                                   bpr_gradcheck_case, make)


def sequences(by_user):
    """leave_one_out of ``{user: [item, ...]}`` (items in time order; raw item ids 0 .. I-1 = indices)."""
    user = np.concatenate([np.full(len(s), u) for u, s in by_user.items()]).astype(np.int64)
    item = np.concatenate([np.asarray(s) for s in by_user.values()]).astype(np.int64)
    time = np.concatenate([np.arange(len(s)) for s in by_user.values()]).astype(np.int64)
    return leave_one_out(Ratings(user, item, np.full(len(user), 4.0), time, {}))


# Each user ends with items 3 and 4 (validation, test), so TRAIN is: u0 {0, 1}, u1 {0, 1, 2}, u2 {1, 2}, u3 {2}.
# |U_0| = 2, |U_1| = 3, |U_2| = 3; co-occurrences |U_0 ∩ U_1| = 2, |U_0 ∩ U_2| = 1, |U_1 ∩ U_2| = 2.
# Items 3 and 4 have no training interaction at all.
TINY = {0: [0, 1, 3, 4], 1: [0, 1, 2, 4, 3], 2: [1, 2, 3, 4], 3: [2, 3, 4]}


@pytest.fixture(scope="module")
def tiny():
    return sequences(TINY)


@pytest.fixture(scope="module")
def synthetic():
    # make_synthetic's default max_len = 60 exceeds 40 items; lengths 10-20 leave 20-30 unseen candidates.
    return leave_one_out(make_synthetic(n_users=200, n_items=40, min_len=10, max_len=20, p_follow=0.9, seed=0))


# --------------------------------------------------------------------------- popularity


def test_popularity_scores_training_counts(tiny):
    model = Popularity(5).fit(tiny, TRAIN)
    scores = model.score(np.array([0, 3]), [np.array([0, 1]), np.array([], np.int64)])
    np.testing.assert_array_equal(scores, [[2, 3, 3, 0, 0], [2, 3, 3, 0, 0]])
    assert scores.dtype == np.float64 and model.epochs_ is None
    # Train + validation adds the items 3, 3, 4, 3.
    np.testing.assert_array_equal(Popularity(5).fit(tiny, VAL).pop, [2, 3, 3, 3, 1])


# --------------------------------------------------------------------------- itemknn


def test_itemknn_similarity_by_hand_with_shrink_and_k(tiny):
    s01, s02, s12 = 2 / (np.sqrt(2 * 3) + 1), 1 / (np.sqrt(2 * 3) + 1), 2 / (np.sqrt(3 * 3) + 1)
    full = np.zeros((5, 5))
    full[0, 1] = full[1, 0] = s01
    full[0, 2] = full[2, 0] = s02
    full[1, 2] = full[2, 1] = s12
    np.testing.assert_allclose(ItemKNN(5, k=5, shrink=1.0).fit(tiny, TRAIN).S, full, rtol=0, atol=1e-15)
    # k = 1: column 0 keeps row 1 (s01 > s02), column 1 keeps row 0 (s01 > s12), column 2 keeps row 1 (s12 > s02).
    top1 = np.zeros((5, 5))
    top1[1, 0] = top1[0, 1] = s01
    top1[1, 2] = s12
    model = ItemKNN(5, k=1, shrink=1.0).fit(tiny, TRAIN)
    np.testing.assert_allclose(model.S, top1, rtol=0, atol=1e-15)
    # score(u, j) = sum of S[i, j] over the history {0, 2}
    np.testing.assert_allclose(model.score([0], [np.array([0, 2])]), [[0, s01, 0, 0, 0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(ItemKNN(5, k=5, shrink=1.0).fit(tiny, TRAIN).score([0], [[0, 2]]),
                               [[s02, s01 + s12, s02, 0, 0]], rtol=0, atol=1e-15)


def test_itemknn_without_shrink_is_cosine_and_never_nan(tiny):
    S = ItemKNN(5, k=5, shrink=0.0).fit(tiny, TRAIN).S  # items 3 and 4: 0 / 0 must give 0, not NaN
    assert np.isfinite(S).all()
    np.testing.assert_allclose(S[0, 1], 2 / np.sqrt(6), rtol=1e-15)
    np.testing.assert_array_equal(S[3:], 0)
    np.testing.assert_array_equal(S[:, 3:], 0)


# --------------------------------------------------------------------------- transition


def test_transition_probabilities_by_hand(tiny):
    # Training pairs: 0->1 (u0, u1), 1->2 (u1, u2). pop = (2, 3, 3, 0, 0), p = pop / 8.
    model = Transition(5, alpha=2.0).fit(tiny, TRAIN)
    p = np.array([2, 3, 3, 0, 0]) / 8
    C = np.zeros((5, 5))
    C[0, 1] = C[1, 2] = 2
    np.testing.assert_array_equal(model.C, C)
    row0 = (np.array([0, 2, 0, 0, 0]) + 2 * p) / (2 + 2)                      # (.125, .6875, .1875, 0, 0)
    np.testing.assert_allclose(row0, [0.125, 0.6875, 0.1875, 0, 0])
    scores = model.score([0, 1, 2], [np.array([1, 0]), np.array([2]), np.array([], np.int64)])
    np.testing.assert_allclose(scores[0], row0, rtol=1e-15)                  # last item 0
    np.testing.assert_allclose(scores[1], p, rtol=1e-15)                     # item 2 is never followed: p
    np.testing.assert_allclose(scores[2], p, rtol=1e-15)                     # empty history: p
    np.testing.assert_allclose(model.P.sum(axis=1), 1.0, rtol=1e-15)         # every row is a distribution


def test_transition_on_train_and_validation_counts_the_pair_across_the_boundary(tiny):
    # VAL adds u0 1->3, u1 2->4, u2 2->3, u3 2->3 (the last training item -> the validation item).
    C = Transition(5, alpha=1.0).fit(tiny, VAL).C
    assert C[1, 3] == 1 and C[2, 3] == 2 and C[2, 4] == 1 and C.sum() == 4 + 4


# --------------------------------------------------------------------------- EASE


def test_ease_equals_columnwise_ridge_regression(synthetic):
    lam = 7.0
    model = EASE(40, lam=lam).fit(synthetic, TRAIN)
    X = (synthetic.counts(TRAIN) > 0).astype(float)
    # Independently: column j of B is the ridge regression of X[:, j] on the other columns.
    B = np.zeros((40, 40))
    for j in range(40):
        o = np.delete(np.arange(40), j)
        B[o, j] = np.linalg.solve(X[:, o].T @ X[:, o] + lam * np.eye(39), X[:, o].T @ X[:, j])
    np.testing.assert_allclose(model.B, B, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(np.diag(model.B), 0)
    h = [np.array([3, 17, 5]), np.array([], np.int64)]
    np.testing.assert_allclose(model.score([0, 1], h), [B[[3, 17, 5]].sum(axis=0), np.zeros(40)], atol=1e-12)


# --------------------------------------------------------------------------- BPR-MF


def test_bpr_gradients_match_central_differences():
    for seed in range(3):
        errors = check_gradients(*bpr_gradcheck_case(np.random.default_rng(seed)))
        assert set(errors) == {"P", "Q", "b"}
        assert max(errors.values()) <= TOLERANCE, errors


def test_bpr_loss_at_zero_parameters_is_batch_times_log2():
    model = BPRMF(5, factors=3, reg=0.5).init_params(4, 0)
    for v in model.params.values():
        v[...] = 0
    users, pos, neg = np.array([0, 1, 1]), np.array([2, 0, 2]), np.array([1, 3, 4])
    assert model.loss(users, pos, neg) == pytest.approx(3 * np.log(2), rel=1e-15)
    g = model.gradients(users, pos, neg)  # dloss/dx = -1/2: only the biases move, pos up and neg down
    np.testing.assert_allclose(g["b"], [-0.5, 0.5, -1.0, 0.5, 0.5])
    np.testing.assert_array_equal(g["P"], 0)


def test_bpr_negatives_are_never_the_users_items(synthetic):
    seen = synthetic.counts(TRAIN) > 0
    users = np.repeat(np.arange(synthetic.num_users), 50)
    neg = BPRMF._negatives(users, seen, np.random.default_rng(0))
    assert not seen[users, neg].any()


def test_bpr_same_seed_same_parameters(synthetic):
    fit = lambda seed: BPRMF(40, factors=4, epochs=2, batch_size=256).fit(synthetic, TRAIN, rng=seed).params
    a, b, c = fit(0), fit(0), fit(1)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["Q"], c["Q"])


def test_bpr_early_stopping_restores_the_best_epoch(synthetic):
    scripted = [0.1, 0.3, 0.5, 0.4, 0.2, 0.45, 0.9]  # best after epoch 2; 3 epochs later, no better: stop
    seen = []

    def val(model):
        seen.append({k: v.copy() for k, v in model.params.items()})
        return scripted[len(seen) - 1]

    model = BPRMF(40, factors=4, epochs=10, patience=3, batch_size=256).fit(synthetic, TRAIN, rng=0, val=val)
    assert model.epochs_ == 2 and len(seen) == 6 and model.history_ == scripted[:6]
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, seen[2][k])
    # The same as training exactly 2 epochs without val (val draws nothing from rng).
    plain = BPRMF(40, factors=4, epochs=2, batch_size=256).fit(synthetic, TRAIN, rng=0)
    assert plain.epochs_ == 2
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, plain.params[k])


def test_bpr_early_stopping_may_choose_zero_epochs(synthetic):
    model = BPRMF(40, factors=4, epochs=10, patience=2).fit(synthetic, TRAIN, rng=0, val=lambda m: -len(m.history_))
    assert model.epochs_ == 0 and len(model.history_) == 3
    init = BPRMF(40, factors=4).init_params(synthetic.num_users, 0)
    np.testing.assert_array_equal(model.params["P"], init.params["P"])


def test_bpr_learns_to_rank_training_items_first(synthetic):
    model = BPRMF(40, factors=8, epochs=20, batch_size=128, lr=0.05).fit(synthetic, TRAIN, rng=0)
    h = synthetic.histories(TRAIN)
    scores = model.score(np.arange(synthetic.num_users), h)
    X = synthetic.counts(TRAIN) > 0
    # AUC of seen over unseen items, per user: BPR's own objective, so well above 1/2.
    auc = np.mean([(s[x][:, None] > s[~x][None, :]).mean() for s, x in zip(scores, X)])
    assert auc > 0.8


# --------------------------------------------------------------------------- on data with sequential structure


def test_transition_beats_popularity_on_sequential_data(synthetic):
    # Measured: popularity 0.137, itemknn 0.155, EASE(lam=50) 0.171, transition 0.460 (validation NDCG@10).
    ndcg = {name: evaluate(make(name, 40, **setting).fit(synthetic, TRAIN).score, synthetic, VAL)["removed"]["NDCG@10"]
            for name, setting in [("popularity", {}), ("itemknn", {"k": 10, "shrink": 0.0}),
                                  ("transition", {"alpha": 1.0}), ("ease", {"lam": 50.0})]}
    assert ndcg["transition"] > ndcg["popularity"] + 0.2
    assert ndcg["ease"] > ndcg["popularity"] + 0.01
    assert ndcg["itemknn"] > ndcg["popularity"]


def test_every_grid_point_fits_and_scores_finite(synthetic):
    assert set(GRIDS) == set(MODELS) and all(cls.name == name for name, cls in MODELS.items())
    h = synthetic.histories(TRAIN)[:5] + [np.array([], np.int64)]
    users = np.arange(6)
    for name in MODELS:
        points = rb.grid_points(GRIDS[name])
        for setting in points if name != "bprmf" else points[:1]:
            model = make(name, 40, **setting, **({"epochs": 1} if name == "bprmf" else {})).fit(synthetic, TRAIN,
                                                                                                  rng=0)
            s = model.score(users, h)
            assert s.shape == (6, 40) and s.dtype == np.float64 and np.isfinite(s).all()
            assert (model.epochs_ is None) == (name != "bprmf")


def test_choosing_reports_every_grid_point_and_keeps_the_best(synthetic):
    from lstm_np.recommender.nextitem_protocol import choose_and_refit

    row, _ = choose_and_refit("transition", synthetic, grid={"alpha": (1.0, 1e4)})
    assert [r["setting"] for r in row["grid"]] == [{"alpha": 1.0}, {"alpha": 1e4}]
    assert row["grid"][0]["NDCG@10"] > row["grid"][1]["NDCG@10"] and row["choice"] == {"alpha": 1.0}
    assert row["val"]["removed"]["NDCG@10"] == row["grid"][0]["NDCG@10"]


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("build, word", [
    (lambda: ItemKNN(5, k=-1), "k"),
    (lambda: ItemKNN(5, k=0), "k"),
    (lambda: ItemKNN(5, shrink=-1.0), "shrink"),
    (lambda: EASE(5, lam=0.0), "lam"),
    (lambda: EASE(5, lam=-3.0), "lam"),
    (lambda: Transition(5, alpha=0.0), "alpha"),
    (lambda: BPRMF(5, factors=0), "factors"),
    (lambda: BPRMF(5, reg=-0.1), "reg"),
    (lambda: BPRMF(5, epochs=-1), "epochs"),
    (lambda: Popularity(0), "num_items"),
    (lambda: make("itemcf", 5), "name"),
])
def test_bad_settings_raise_naming_the_argument(build, word):
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        build()


def test_bad_histories_users_and_data_raise(tiny):
    for name in MODELS:
        model = make(name, 5).fit(tiny, TRAIN, rng=0)
        with pytest.raises(ValueError, match=r"histories\[1\] has item 5"):
            model.score([0, 1], [np.array([0]), np.array([2, 5])])
        with pytest.raises(ValueError, match=r"histories\[0\] has item -1"):
            model.score([0], [np.array([-1])])
        with pytest.raises(ValueError, match="users"):
            model.score([0, 1, 2], [np.array([0])])
    with pytest.raises(ValueError, match="users"):
        make("bprmf", 5).fit(tiny, TRAIN, rng=0).score([4], [np.array([0])])  # 4 users: 0 .. 3
    with pytest.raises(ValueError, match="num_items"):
        EASE(6).fit(tiny, TRAIN)
    with pytest.raises(ValueError, match="upto"):
        Popularity(5).fit(tiny, 2)


def test_bpr_refuses_a_nan_validation_score(synthetic):
    with pytest.raises(FloatingPointError, match="validation score"):
        BPRMF(40, factors=4, epochs=2).fit(synthetic, TRAIN, rng=0, val=lambda m: float("nan"))
