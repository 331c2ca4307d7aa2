"""Attention: the reference step, the batched layer equal to it, and the next-item model with attention."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_np.cells import attention as ref
from lstm_np.gradcheck import CASES, TOLERANCE, check_gradients
from lstm_np.recommender.attentive import AttentiveNextItemNet, make_net
from lstm_np.recommender.nextitem import NextItemConfig, NextItemNet, train_next_item
from lstm_np.sequence.attention import Attention, causal_window_mask

TINY = NextItemConfig(embed_dim=6, hidden_size=6, epochs=2, patience=2, dtype="float64", attention="additive",
                      window=4, attn_size=5)


@pytest.mark.parametrize("case", ["attention_dot", "attention_additive", "next_item_attention",
                                  "next_item_attention_dot_untied"])
def test_attention_gradients_match_central_differences(case):
    errors = check_gradients(*CASES[case](np.random.default_rng(5)))
    assert max(errors.values()) <= TOLERANCE, errors


def test_masked_softmax_by_hand():
    s = np.array([[0.0, np.log(3.0), 7.0], [1.0, 2.0, 3.0]])
    mask = np.array([[1, 1, 0], [0, 0, 0]])
    alpha = ref.masked_softmax(s, mask)
    np.testing.assert_allclose(alpha[0], [0.25, 0.75, 0.0], rtol=1e-15)
    assert alpha[0, 2] == 0.0 and not alpha[1].any()  # padding exactly 0; a row with nothing to see is 0, not NaN
    big = ref.masked_softmax(s + 1000.0, mask)  # subtracting the maximum: no overflow
    np.testing.assert_allclose(big, alpha, rtol=1e-12)


def test_a_padded_step_gets_no_weight_and_no_gradient():
    rng = np.random.default_rng(0)
    q, K, V = rng.normal(size=(2, 3)), rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 3))
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]])
    for score, params in [("dot", {}), ("additive", {"Wq": rng.normal(size=(3, 2)), "Wk": rng.normal(size=(3, 2)),
                                                     "v": rng.normal(size=2)})]:
        a, alpha, cache = ref.step_forward(q, K, V, mask, params, score)
        assert (alpha[mask == 0] == 0).all() and np.allclose(alpha.sum(axis=1), 1)
        np.testing.assert_allclose(a[1], V[1, 0], rtol=1e-14)  # one real step: its value, whatever the score
        K2, V2 = K.copy(), V.copy()
        K2[mask == 0] += 100.0
        V2[mask == 0] -= 50.0
        np.testing.assert_array_equal(ref.step_forward(q, K2, V2, mask, params, score)[0], a)
        _, dK, dV, _ = ref.step_backward(rng.normal(size=(2, 3)), cache)
        assert not dK[mask == 0].any() and not dV[mask == 0].any()


def test_dot_scores_are_scaled_by_one_over_sqrt_h():
    q = np.array([[1.0, 1.0, 1.0, 1.0]])
    K = np.array([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    _, alpha, _ = ref.step_forward(q, K, K, np.ones((1, 2)), {}, "dot")
    s = 4.0 / np.sqrt(4.0)  # q . k_0 = 4, divided by sqrt(H) = 2
    np.testing.assert_allclose(alpha[0], [np.exp(s) / (np.exp(s) + 1), 1 / (np.exp(s) + 1)], rtol=1e-14)


@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 3), T=st.integers(1, 5), S=st.integers(1, 6), H=st.integers(1, 4), window=st.integers(1, 7),
       score=st.sampled_from(["dot", "additive"]), seed=st.integers(0, 2**16))
def test_the_batched_layer_equals_the_reference_step_query_by_query(B, T, S, H, window, score, seed):
    rng = np.random.default_rng(seed)
    att = Attention(H, H, score, attn_size=3, rng=rng)
    Q, K, V = rng.normal(size=(B, T, H)), rng.normal(size=(B, S, H)), rng.normal(size=(B, S, H))
    key_mask = (rng.random((B, S)) < 0.7).astype(float)
    mask = causal_window_mask(key_mask, rng.integers(0, S + 1, T), np.arange(S), window)
    a, alpha, cache = att.forward(Q, K, V, mask)
    da = rng.normal(size=a.shape)
    dQ, dK, dV = att.backward(da, cache)
    dK_ref, dV_ref = np.zeros_like(K), np.zeros_like(V)
    g_ref = {k: np.zeros_like(v) for k, v in att.params.items()}
    for t in range(T):
        a_t, alpha_t, c_t = ref.step_forward(Q[:, t], K, V, mask[:, t], att.params, score)
        np.testing.assert_allclose(a[:, t], a_t, rtol=0, atol=1e-12)
        np.testing.assert_allclose(alpha[:, t], alpha_t, rtol=0, atol=1e-12)
        dq, dk, dv, g = ref.step_backward(da[:, t], c_t)
        np.testing.assert_allclose(dQ[:, t], dq, rtol=0, atol=1e-12)
        dK_ref, dV_ref = dK_ref + dk, dV_ref + dv
        for k in g:
            g_ref[k] += g[k]
    np.testing.assert_allclose(dK, dK_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dV, dV_ref, rtol=0, atol=1e-12)
    for k in g_ref:
        np.testing.assert_allclose(att.grads[k], g_ref[k], rtol=0, atol=1e-12)


def test_causal_window_mask_by_hand():
    m = causal_window_mask(np.array([[1, 1, 0, 1]]), np.array([1, 3]), np.arange(4), 2)
    np.testing.assert_array_equal(m[0], [[1, 1, 0, 0], [0, 0, 0, 1]])


def test_dot_attention_refuses_unequal_sizes_and_unknown_scores():
    with pytest.raises(ValueError, match="query_size == key_size"):
        Attention(3, 4, "dot")
    with pytest.raises(ValueError, match="score must be one of"):
        Attention(3, 3, "cosine")


# --------------------------------------------------------------------------- the model


def test_chunks_with_the_carried_state_equal_one_long_forward():
    """Truncated BPTT's chunks see the same keys as the whole sequence: the previous chunk's last window - 1
    states are carried in the state."""
    for score in ("dot", "additive"):
        net = AttentiveNextItemNet(9, TINY.replace(attention=score))
        rng = np.random.default_rng(1)
        ids = rng.integers(0, 9, (3, 11))
        mask = np.ones((3, 11))
        mask[2, 7:] = 0
        z, _, _ = net.forward(ids, mask)
        parts, state = [], None
        for lo in range(0, 11, 3):
            zc, state, _ = net.forward(ids[:, lo : lo + 3], mask[:, lo : lo + 3], state)
            parts.append(zc)
        np.testing.assert_allclose(np.concatenate(parts, axis=1), z, rtol=0, atol=1e-12)


def test_score_of_a_history_equals_the_last_step_of_the_full_forward_with_attention():
    net = AttentiveNextItemNet(11, TINY)
    h = [np.array([3, 1, 4, 1, 5, 9, 2]), np.array([9]), np.array([], np.int64), np.array([2, 6])]
    s = net.score(h, batch_size=2)
    z = net.forward(np.array([h[0]]))[0]
    np.testing.assert_allclose(s[0], z[0, -1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s[2], net.head.params["b"], rtol=0, atol=1e-12)  # empty: the prior only
    np.testing.assert_allclose(s[3], net.score([h[3]])[0], rtol=0, atol=1e-12)  # padding in a batch changes nothing
    w = net.attention_weights(h[0])
    assert w.shape == (7,) and (w[:3] == 0).all() and w.sum() == pytest.approx(1.0)  # window 4: the last 4 steps


def test_window_one_attends_only_to_the_querys_own_step():
    net = AttentiveNextItemNet(11, TINY.replace(window=1))
    u, alpha = net._attend_last(np.array([[1, 2, 3, 4, 5]]), np.ones((1, 5)))
    assert alpha[0, -1] == 1.0 and not alpha[0, :-1].any()
    e, _ = net.embedding.forward(np.array([[1, 2, 3, 4, 5]]))
    h = net.stack.forward(e, None, None, train=False)[0][:, -1]
    c = np.concatenate([h, h], axis=-1)  # the summary of one step is that step's state
    np.testing.assert_allclose(u, c @ net.mix.params["W"] + net.mix.params["b"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("score", ["dot", "additive"])
def test_a_float32_model_stays_float32(score):
    """A float64 scalar (NumPy's sqrt of H) would silently upcast a float32 run; every gradient keeps the dtype."""
    net = AttentiveNextItemNet(9, TINY.replace(attention=score, dtype="float32"))
    ids = np.random.default_rng(0).integers(0, 9, (2, 5))
    z, state, _ = net.forward(ids)
    assert z.dtype == np.float32 and state[1].dtype == np.float32
    net.backward(net.loss(ids, ids, None)[2])
    assert all(g.dtype == np.float32 for g in net.grads.values())
    assert net.score([ids[0]]).dtype == np.float64  # scores are handed out as float64, as the plain model's


def test_make_net_builds_the_model_the_settings_name():
    assert type(make_net(5, TINY.replace(attention="none"))) is NextItemNet
    assert type(make_net(5, TINY)) is AttentiveNextItemNet
    with pytest.raises(ValueError, match="attention"):
        NextItemConfig(attention="multihead")
    with pytest.raises(ValueError, match="window"):
        NextItemConfig(attention="dot", window=0)
    with pytest.raises(ValueError, match="needs config.attention"):
        AttentiveNextItemNet(5, TINY.replace(attention="none"))


def test_a_bad_carried_state_is_refused_and_leaves_the_generator_as_it_was():
    net = AttentiveNextItemNet(9, TINY)
    before = net.rng.bit_generator.state
    ids = np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match="state's keys"):
        net.loss(ids, ids, None, (None, np.zeros((2, 9, 6)), np.ones((2, 9))))
    with pytest.raises(TypeError, match="state must be"):
        net.loss(ids, ids, None, [None])
    assert net.rng.bit_generator.state == before


def test_the_attentive_model_learns_a_sequential_rule_and_is_reproducible():
    from lstm_np.data import TRAIN, VAL, make_synthetic
    from lstm_np.data.sequences import leave_one_out
    from lstm_np.recommender.nextitem import next_item_validation
    from lstm_np.recommender.ranking import exclusion_mask, ranking_metrics, target_ranks

    s = leave_one_out(make_synthetic(n_users=150, n_items=24, min_len=12, max_len=20, p_follow=0.9, seed=0))
    hist = s.histories(TRAIN)
    users, targets = s.targets(VAL)
    vh = [hist[u] for u in users]
    val = next_item_validation(vh, targets, exclusion_mask(vh, s.num_items))
    cfg = TINY.replace(hidden_size=16, embed_dim=16, lr=0.02)
    runs = []
    for _ in range(2):
        net = AttentiveNextItemNet(s.num_items, cfg)
        fit = train_next_item(net, hist, epochs=5, val=val, patience=5)
        runs.append(net.params)
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])  # the seed reproduces the run exactly
    pop = np.bincount(np.concatenate(hist), minlength=s.num_items).astype(float)
    pop_ndcg = ranking_metrics(target_ranks(np.tile(pop, (len(vh), 1)), targets,
                                            exclusion_mask(vh, s.num_items)))["NDCG@10"]
    assert fit.history[fit.best_epoch]["NDCG@10"] > pop_ndcg + 0.05, (fit.history, pop_ndcg)


# --------------------------------------------------------------------------- explanations and the command line


@pytest.fixture(scope="module")
def attentive_run(tmp_path_factory):
    from lstm_np.cli import main

    out = tmp_path_factory.mktemp("attn") / "run"
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--attention", "additive",
                 "--attention-window", "8", "--out", str(out), "--no-progress"]) == 0
    return out


def test_a_run_with_attention_reports_both_recurrent_models_and_saves_the_attentive_one(attentive_run):
    import json

    from lstm_np.recommender.nextitem_model import NextItemRecommender
    from lstm_np.recommender.nextitem_pipeline import markdown_table

    metrics = json.loads((attentive_run / "metrics.json").read_text())
    assert {"lstm", "lstm_attention"} <= set(metrics["summary"])
    assert "attention" not in metrics["per_seed"][0]["rows"]["lstm"]["choice"]  # as before attention existed
    assert metrics["per_seed"][0]["rows"]["lstm_attention"]["choice"]["attention"] == "additive"
    assert {"lstm", "lstm_attention"} <= set(metrics["per_seed"][0]["temporal"])
    assert any(line.startswith("| LSTM + additive attention |") for line in markdown_table(metrics).splitlines())
    model = NextItemRecommender.load(attentive_run)
    assert isinstance(model.net, AttentiveNextItemNet) and model.net.config.window == 8
    hist = model.history(1)
    np.testing.assert_allclose(model.scores(user=1), model.scores(history=hist.tolist()), rtol=0, atol=1e-12)


def test_influence_is_the_fall_of_log_p_without_each_movie():
    from lstm_np.recommender.explain import explain, support

    net = make_net(20, TINY.replace(window=3))
    h = np.array([4, 7, 1, 9, 12, 3])
    s = support(net, h, [5, 6], "influence", depth=4)

    def lp(hist):
        z = net.score([hist])[0]
        return z - np.log(np.exp(z - z.max()).sum()) - z.max()

    for j in range(6):
        want = 0.0 if j < 2 else lp(h)[5] - lp(np.delete(h, j))[5]  # only the last depth = 4 are candidates
        assert s[0, j] == pytest.approx(want, abs=1e-12)
    w = support(net, h, [5, 6], "attention", depth=4)
    np.testing.assert_allclose(w[0], w[1])  # attention: the same for every recommended movie
    np.testing.assert_allclose(w[0, 3:], net.attention_weights(h)[3:])  # window 3: the last three steps
    top = explain(net, h, [5], "influence", depth=4, top=2)[0]
    assert [j for j, _ in top] == list(np.argsort(-s[0])[:2])


def test_explanations_refuse_what_they_cannot_do():
    from lstm_np.recommender.explain import faithfulness, support

    plain = make_net(20, TINY.replace(attention="none"))
    with pytest.raises(ValueError, match="needs a model with attention"):
        support(plain, [1, 2, 3], [4], "attention")
    with pytest.raises(ValueError, match="method must be one of"):
        support(plain, [1, 2, 3], [4], "gradient")
    with pytest.raises(ValueError, match="depth"):
        support(plain, [1, 2, 3], [4], "influence", depth=0)
    with pytest.raises(ValueError, match="item ids|items"):
        support(plain, [1, 2, 3], [40], "influence")
    with pytest.raises(ValueError, match="at most depth"):
        faithfulness(plain, [np.arange(10)], ks=(3, 30), depth=20)


def test_recommend_explain_and_faithfulness_from_the_command_line(attentive_run, capsys, tmp_path):
    import json

    from lstm_np.cli import main

    assert main(["recommend", str(attentive_run), "--user", "1", "--top", "3", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "Why?" in out and out.count("influence ") == 3 and out.count("attention ") >= 3
    assert main(["evaluate", str(attentive_run), "--faithfulness", "--no-progress", "--depth", "8", "--draws", "2",
                 "--json", str(tmp_path / "f.json")]) == 0
    out = capsys.readouterr().out
    assert "| the k most influential (leave-one-out) |" in out and "| k at random (2 draws) |" in out
    result = json.loads((tmp_path / "f.json").read_text())
    rows = result["rows"]
    assert set(rows) == {"influence", "attention", "recent", "random"}
    # leave-one-out influence removes more of the score than random deletion (a large margin on this data)
    assert rows["influence"]["3"]["drop"] > 2 * rows["random"]["3"]["drop"]
    with pytest.raises(SystemExit):  # argparse: a usage line and status 2
        main(["recommend", str(attentive_run), "--user", "1", "--explain", "--depth", "0"])
    assert "--depth: must be a positive integer" in capsys.readouterr().err


def test_explain_errors_are_one_line(attentive_run, capsys, tmp_path):
    from lstm_np.cli import main

    plain = tmp_path / "plain"
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--out", str(plain),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["recommend", str(plain), "--user", "1", "--explain", "--explain-method", "attention"]) == 2
    assert "needs a model with attention" in capsys.readouterr().err
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--attention-window", "4",
                 "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--attention-window needs --attention" in capsys.readouterr().err
    assert main(["train", "--data", "synthetic", "--attention", "dot", "--out", str(tmp_path / "y")]) == 2
    assert "option of --task next-item" in capsys.readouterr().err


def test_models_runs_only_the_models_named(tmp_path, capsys):
    import json

    from lstm_np.cli import main

    out = tmp_path / "some"
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--attention", "dot", "--models",
                 "transition", "lstm_attention", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"transition", "lstm_attention"}
    assert (out / "training.png").stat().st_size > 0
    capsys.readouterr()
    for bad, message in ((["ease"], "must include lstm or lstm_attention"),
                         (["lstm_attention"], "must be names among"),      # no --attention: there is no such model
                         (["lstm", "gru4rec"], "must be names among")):
        assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--models", *bad, "--out",
                     str(tmp_path / "x"), "--no-progress"]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before any work


def test_no_temporal_leaves_out_the_temporal_lists(tmp_path):
    import json

    from lstm_np.cli import main
    from lstm_np.recommender.nextitem_pipeline import markdown_table

    out = tmp_path / "loo"
    assert main(["train", "--task", "next-item", "--data", "synthetic", "--quick", "--no-temporal", "--models",
                 "popularity", "lstm", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["per_seed"][0]["temporal"] is None and "temporal" not in metrics["summary"]["lstm"]
    assert "temporal" not in markdown_table(metrics).splitlines()[0]


def test_settings_of_the_wrong_type_are_a_type_error():
    for bad in ({"epochs": "3"}, {"lr": None}, {"cell": 3}, {"hidden_size": [1]}, {"tied": "yes"},
                {"attention": None}):
        with pytest.raises(TypeError, match=next(iter(bad))):
            NextItemConfig(**bad)


def test_attention_refuses_bad_arrays_before_computing():
    att = Attention(3, 3, "additive", attn_size=2, rng=0)
    Q, K = np.zeros((2, 4, 3)), np.zeros((2, 5, 3))
    mask = np.ones((2, 4, 5))
    for args, err, match in (((Q, K, K, mask[:, :, :4]), ValueError, "expected"),
                             ((Q.astype(np.float32), K, K, mask), TypeError, "dtype"),
                             ((Q, K, K, [[1]]), TypeError, "mask must be"),
                             ((Q * np.nan, K, K, mask), ValueError, "NaN")):
        with pytest.raises(err, match=match):
            att.forward(*args)
    a, _, cache = att.forward(Q, K, K, mask)
    with pytest.raises(ValueError, match="da must be"):
        att.backward(np.zeros((2, 4, 2)), cache)
    before = {k: v.copy() for k, v in att.grads.items()}
    with pytest.raises(ValueError, match="NaN"):
        att.backward(np.full(a.shape, np.nan), cache)
    assert all(np.array_equal(att.grads[k], before[k]) for k in before)  # nothing written


def test_faithfulness_json_path_is_checked_before_the_work(attentive_run, tmp_path, capsys):
    from lstm_np.cli import main

    assert main(["evaluate", str(attentive_run), "--faithfulness", "--no-progress", "--json",
                 str(tmp_path / "missing" / "f.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate", str(attentive_run), "--faithfulness", "--no-progress", "--json", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err



@pytest.mark.parametrize("attention", ["none", "additive"])
def test_a_backward_refused_for_another_nets_cache_leaves_every_gradient(attention):
    cfg = TINY.replace(attention=attention, tied=False)
    a, b = make_net(9, cfg), make_net(9, cfg.replace(seed=1))
    ids = np.random.default_rng(0).integers(0, 9, (2, 5))
    a.backward(a.loss(ids, ids, None)[2])
    before = {k: v.copy() for k, v in a.grads.items()}
    with pytest.raises(ValueError, match="another"):
        a.backward(b.loss(ids, ids, None)[2])
    assert all(np.array_equal(a.grads[k], before[k]) for k in before)
