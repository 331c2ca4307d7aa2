import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_np.cells.lstm import step_backward, step_forward
from lstm_np.gradcheck import TOLERANCE, check_gradients
from lstm_np.sequence.lstm import LSTM


# --------------------------------------------------------------------------- helpers


def layer_gradient_errors(lstm, x, h0=None, c0=None, mask=None, final_grads=True, seed=0):
    """Relative errors of every gradient of the layer for the loss
    sum(out * R) + sum(h_T * Rh) + sum(c_T * Rc)."""
    rng = np.random.default_rng(seed)
    B, T, _ = x.shape
    H = lstm.hidden_size
    R = rng.standard_normal((B, T, H))
    Rh, Rc = (rng.standard_normal((B, H)), rng.standard_normal((B, H))) if final_grads else (None, None)
    arrays = {"x": x, **lstm.params}
    if h0 is not None:
        arrays.update(h0=h0, c0=c0)

    def loss():
        out, (h, c), _ = lstm.forward(x, h0, c0, mask)
        total = np.sum(out * R)
        if final_grads:
            total += np.sum(h * Rh) + np.sum(c * Rc)
        return total

    _, _, cache = lstm.forward(x, h0, c0, mask)
    dx, dh0, dc0 = lstm.backward(R, cache, dh_T=Rh, dc_T=Rc)
    analytic = {"x": dx, **{k: g.copy() for k, g in lstm.grads.items()}, "h0": dh0, "c0": dc0}
    return check_gradients(loss, arrays, analytic)


def step_by_step(lstm, x, h0, c0, mask):
    """Reference: the cell stepped by hand, with the mask applied explicitly."""
    p = lstm.params
    h, c = h0, c0
    outs, caches = [], []
    for t in range(x.shape[1]):
        h_new, c_new, cache = step_forward(x[:, t], h, c, p["Wx"], p["Wh"], p["b"])
        m = mask[:, t, None]
        h, c = m * h_new + (1 - m) * h, m * c_new + (1 - m) * c
        outs.append(m * h_new)
        caches.append(cache)
    return np.stack(outs, axis=1), h, c, caches


def step_by_step_backward(dout, caches, mask):
    """Reference BPTT with the single-step backward."""
    B, T, H = dout.shape
    dh, dc = np.zeros((B, H)), np.zeros((B, H))
    grads = None
    dxs = []
    for t in reversed(range(T)):
        m = mask[:, t, None]
        dx, dh_prev, dc_prev, g = step_backward(m * (dh + dout[:, t]), m * dc, caches[t])
        dh, dc = dh_prev + (1 - m) * dh, dc_prev + (1 - m) * dc
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
        dxs.append(dx)
    return np.stack(dxs[::-1], axis=1), dh, dc, grads


@st.composite
def problems(draw):
    B, T = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    D, H = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mask = (rng.random((B, T)) < draw(st.sampled_from([0.5, 0.8, 1.0]))).astype(float)
    return B, T, D, H, seed, mask


def make_inputs(B, T, D, H, seed):
    rng = np.random.default_rng(seed)
    lstm = LSTM(D, H, rng=rng)
    lstm.params["b"] += 0.3 * rng.standard_normal(4 * H)  # not just the initial biases
    x = rng.standard_normal((B, T, D))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    return lstm, x, h0, c0


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "B, T, with_state, with_mask, final_grads",
    [
        (3, 5, False, False, False),  # plain
        (3, 5, True, False, False),   # initial state
        (3, 5, False, True, False),   # mask
        (3, 5, True, True, True),     # everything, with gradients at the final state
        (2, 1, True, True, True),     # T = 1
        (1, 6, True, False, True),    # B = 1
        (2, 40, True, True, True),    # long T
    ],
)
def test_layer_gradients_match_numerical(B, T, with_state, with_mask, final_grads):
    lstm, x, h0, c0 = make_inputs(B, T, 3, 4, seed=B * 100 + T)
    mask = None
    if with_mask:
        mask = np.ones((B, T))
        mask[0, T // 2 :] = 0
        if B > 1 and T > 1:
            mask[-1, 0] = 0
    errors = layer_gradient_errors(
        lstm, x, h0 if with_state else None, c0 if with_state else None, mask, final_grads
    )
    assert max(errors.values()) <= TOLERANCE, errors


@given(problems())
def test_layer_gradcheck_property(problem):
    B, T, D, H, seed, mask = problem
    lstm, x, h0, c0 = make_inputs(B, T, D, H, seed)
    errors = layer_gradient_errors(lstm, x, h0, c0, mask, final_grads=True, seed=seed)
    assert max(errors.values()) <= TOLERANCE, errors


# --------------------------------------------------------------------------- equivalences


@given(problems())
def test_layer_equals_cell_stepped_by_hand(problem):
    B, T, D, H, seed, mask = problem
    lstm, x, h0, c0 = make_inputs(B, T, D, H, seed)
    out, (h, c), cache = lstm.forward(x, h0, c0, mask)
    ref_out, ref_h, ref_c, caches = step_by_step(lstm, x, h0, c0, mask)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h, ref_h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c, ref_c, rtol=1e-12, atol=1e-13)

    dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    dx, dh0, dc0 = lstm.backward(dout, cache)
    ref_dx, ref_dh0, ref_dc0, ref_grads = step_by_step_backward(dout, caches, mask)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh0, ref_dh0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dc0, ref_dc0, rtol=1e-10, atol=1e-12)
    for k in ref_grads:
        np.testing.assert_allclose(lstm.grads[k], ref_grads[k], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("K, k", [(1, 1), (3, 1), (3, 2), (4, 4), (8, 3)])
def test_layer_in_chunks_and_blocks_equals_cell_stepped_by_hand(monkeypatch, K, k):
    """Every layout of the backward (chunks of K steps, blocks of k) against the cell by hand."""
    import lstm_np.sequence.lstm as layer

    B, T, D, H = 3, 8, 2, 4
    lstm, x, h0, c0 = make_inputs(B, T, D, H, seed=K * 10 + k)
    mask = np.ones((B, T))
    mask[0, 5:] = 0
    mask[1, :2] = 0
    mask[2, 3] = 0
    monkeypatch.setattr(layer, "_chunk_steps", lambda T, B, H4: (K, k))
    out, _, cache = lstm.forward(x, h0, c0, mask)
    dout = np.random.default_rng(K).standard_normal(out.shape)
    dx, dh0, dc0 = lstm.backward(dout, cache)
    _, _, _, caches = step_by_step(lstm, x, h0, c0, mask)
    ref_dx, ref_dh0, ref_dc0, ref_grads = step_by_step_backward(dout, caches, mask)
    for got, ref in [(dx, ref_dx), (dh0, ref_dh0), (dc0, ref_dc0)]:
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    for name in ref_grads:
        np.testing.assert_allclose(lstm.grads[name], ref_grads[name], rtol=1e-10, atol=1e-12)


@given(problems(), st.booleans())
def test_reusing_a_cache_changes_no_result(problem, use_mask):
    B, T, D, H, seed, mask = problem
    mask = mask if use_mask else None
    lstm, x, h0, c0 = make_inputs(B, T, D, H, seed)
    dout = np.random.default_rng(seed + 1).standard_normal((B, T, H))
    out, (h, c), cache = lstm.forward(x, h0, c0, mask)
    dx, dh0, dc0 = lstm.backward(dout, cache)
    grads = {k: g.copy() for k, g in lstm.grads.items()}

    _, _, old = lstm.forward(np.cos(x), c0, h0)  # another call's cache, to be overwritten
    out2, (h2, c2), cache2 = lstm.forward(x, h0, c0, mask, reuse=old)
    dx2, dh02, dc02 = lstm.backward(dout, cache2)
    for a, b in [(out, out2), (h, h2), (c, c2), (dx, dx2), (dh0, dh02), (dc0, dc02)]:
        np.testing.assert_array_equal(a, b)
    for k in grads:
        np.testing.assert_array_equal(grads[k], lstm.grads[k])


@given(st.lists(st.integers(1, 7), min_size=1, max_size=5), st.integers(0, 1000))
def test_padded_batch_equals_unpadded_sequences(lengths, seed):
    D, H, T = 3, 4, max(lengths)
    B = len(lengths)
    rng = np.random.default_rng(seed)
    lstm = LSTM(D, H, rng=rng)
    x = rng.standard_normal((B, T, D))
    mask = (np.arange(T)[None, :] < np.array(lengths)[:, None]).astype(float)
    dout = rng.standard_normal((B, T, H))

    out, (h, c), cache = lstm.forward(x, mask=mask)
    dx, _, _ = lstm.backward(dout, cache)
    batch_grads = {k: g.copy() for k, g in lstm.grads.items()}

    grad_sum = {k: np.zeros_like(g) for k, g in batch_grads.items()}
    for b, L in enumerate(lengths):
        out_b, (h_b, c_b), cache_b = lstm.forward(x[b : b + 1, :L])
        dx_b, _, _ = lstm.backward(dout[b : b + 1, :L], cache_b)
        np.testing.assert_allclose(out[b, :L], out_b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(out[b, L:], 0.0)
        np.testing.assert_allclose(h[b], h_b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c[b], c_b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dx[b, :L], dx_b[0], rtol=1e-10, atol=1e-13)
        np.testing.assert_array_equal(dx[b, L:], 0.0)  # padding passes no gradient
        for k in grad_sum:
            grad_sum[k] += lstm.grads[k]
    for k in grad_sum:
        np.testing.assert_allclose(batch_grads[k], grad_sum[k], rtol=1e-10, atol=1e-12)


def test_gradient_arriving_at_padded_output_is_ignored(rng):
    lstm = LSTM(2, 3, rng=rng)
    x = rng.standard_normal((2, 4, 2))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    _, _, cache = lstm.forward(x, mask=mask)
    dout = rng.standard_normal((2, 4, 3))
    dx1, dh1, dc1 = lstm.backward(dout, cache)
    g1 = {k: v.copy() for k, v in lstm.grads.items()}
    dout[0, 2:] = 1e6  # gradients sent to padded outputs must change nothing
    dx2, dh2, dc2 = lstm.backward(dout, cache)
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(dh1, dh2)
    for k in g1:
        np.testing.assert_array_equal(g1[k], lstm.grads[k])


@given(problems(), st.randoms(use_true_random=False))
def test_permuting_the_batch_permutes_outputs_and_input_gradients(problem, random):
    B, T, D, H, seed, mask = problem
    lstm, x, h0, c0 = make_inputs(B, T, D, H, seed)
    perm = list(range(B))
    random.shuffle(perm)
    dout = np.random.default_rng(seed).standard_normal((B, T, H))

    out, (h, c), cache = lstm.forward(x, h0, c0, mask)
    dx, dh0, dc0 = lstm.backward(dout, cache)
    grads = {k: g.copy() for k, g in lstm.grads.items()}
    out_p, (h_p, c_p), cache_p = lstm.forward(x[perm], h0[perm], c0[perm], mask[perm])
    dx_p, dh0_p, dc0_p = lstm.backward(dout[perm], cache_p)

    np.testing.assert_allclose(out_p, out[perm], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_p, h[perm], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_p, c[perm], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx_p, dx[perm], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dh0_p, dh0[perm], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dc0_p, dc0[perm], rtol=1e-10, atol=1e-13)
    for k in grads:
        np.testing.assert_allclose(lstm.grads[k], grads[k], rtol=1e-10, atol=1e-12)


@given(problems(), st.integers(1, 7))
def test_two_chunks_with_carried_state_equal_one_run(problem, split):
    B, T, D, H, seed, mask = problem
    if T < 2:
        T, mask = 2, np.ones((B, 2))
    k = min(split, T - 1)
    lstm, x, h0, c0 = make_inputs(B, T, D, H, seed)
    x = np.random.default_rng(seed).standard_normal((B, T, D))
    dout = np.random.default_rng(seed + 7).standard_normal((B, T, H))

    out, (h, c), cache = lstm.forward(x, h0, c0, mask)
    dx, dh0, dc0 = lstm.backward(dout, cache)
    whole = {kk: g.copy() for kk, g in lstm.grads.items()}

    out1, (h1, c1), cache1 = lstm.forward(x[:, :k], h0, c0, mask[:, :k])
    out2, (h2, c2), cache2 = lstm.forward(x[:, k:], h1, c1, mask[:, k:])
    np.testing.assert_allclose(np.concatenate([out1, out2], axis=1), out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h2, h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c2, c, rtol=1e-12, atol=1e-14)

    dx2, dh_mid, dc_mid = lstm.backward(dout[:, k:], cache2)
    g2 = {kk: g.copy() for kk, g in lstm.grads.items()}
    dx1, dh0_1, dc0_1 = lstm.backward(dout[:, :k], cache1, dh_T=dh_mid, dc_T=dc_mid)
    np.testing.assert_allclose(np.concatenate([dx1, dx2], axis=1), dx, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dh0_1, dh0, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dc0_1, dc0, rtol=1e-10, atol=1e-13)
    for kk in whole:
        np.testing.assert_allclose(lstm.grads[kk] + g2[kk], whole[kk], rtol=1e-10, atol=1e-12)


def test_all_ones_mask_equals_no_mask(rng):
    lstm = LSTM(3, 4, rng=rng)
    x = rng.standard_normal((2, 5, 3))
    out, (h, c), _ = lstm.forward(x)
    out_m, (h_m, c_m), _ = lstm.forward(x, mask=np.ones((2, 5), dtype=bool))
    np.testing.assert_array_equal(out, out_m)
    np.testing.assert_array_equal(h, h_m)


def test_fully_masked_sequence_keeps_initial_state(rng):
    lstm = LSTM(3, 4, rng=rng)
    x = rng.standard_normal((2, 5, 3))
    h0, c0 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    mask = np.array([[0] * 5, [1] * 5])
    out, (h, c), cache = lstm.forward(x, h0, c0, mask)
    np.testing.assert_array_equal(h[0], h0[0])
    np.testing.assert_array_equal(c[0], c0[0])
    np.testing.assert_array_equal(out[0], 0.0)
    dh_T = rng.standard_normal((2, 4))
    dx, dh0, _ = lstm.backward(np.zeros_like(out), cache, dh_T=dh_T)
    np.testing.assert_array_equal(dh0[0], dh_T[0])  # passes straight through
    np.testing.assert_array_equal(dx[0], 0.0)


# --------------------------------------------------------------------------- dtypes and init


def test_float32_is_preserved_end_to_end(rng):
    lstm = LSTM(3, 4, rng=0, dtype=np.float32)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    out, (h, c), cache = lstm.forward(x, mask=np.array([[1, 1, 1, 0, 0], [1] * 5]))
    assert out.dtype == h.dtype == c.dtype == np.float32
    assert all(a.dtype == np.float32 for a in (cache.act, cache.hs, cache.cs))
    dx, dh0, dc0 = lstm.backward(np.ones_like(out), cache)
    assert dx.dtype == dh0.dtype == dc0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in lstm.grads.values())

    lstm64 = LSTM(3, 4, rng=0, dtype=np.float64)
    out64, _, _ = lstm64.forward(x.astype(np.float64), mask=np.array([[1, 1, 1, 0, 0], [1] * 5]))
    np.testing.assert_allclose(out, out64, rtol=1e-5, atol=1e-6)


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = LSTM(3, 4, rng=7), LSTM(3, 4, rng=np.random.default_rng(7)), LSTM(3, 4, rng=8)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["Wx"], c.params["Wx"])


def test_init_scheme(rng):
    D, H = 5, 6
    lstm = LSTM(D, H, rng=rng)
    Wx, Wh, b = lstm.params["Wx"], lstm.params["Wh"], lstm.params["b"]
    np.testing.assert_array_equal(b, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])  # i, f, o, g
    assert np.abs(Wx).max() <= np.sqrt(6 / (D + H))
    for k in range(4):  # each gate's recurrent block is orthogonal, and they differ
        block = Wh[:, k * H : (k + 1) * H]
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-12)
    assert not np.allclose(Wh[:, :H], Wh[:, H : 2 * H])
    assert not np.allclose(Wx[:, :H], Wx[:, H : 2 * H])
    np.testing.assert_array_equal(LSTM(D, H, rng=0, forget_bias=0.0).params["b"], 0.0)


# --------------------------------------------------------------------------- bad input


def _bad_calls():
    B, T, D, H = 2, 3, 4, 5
    x = np.zeros((B, T, D))
    ok = dict(x=x, h0=np.zeros((B, H)), c0=np.zeros((B, H)), mask=np.ones((B, T)))
    return [
        (dict(ok, x=np.zeros((B, D))), ValueError, r"x has shape \(2, 4\); expected \(B, T, D\) = \(B, T, 4\)"),
        (dict(ok, x=np.zeros((B, T, D + 1))), ValueError, r"x has shape \(2, 3, 5\); expected \(B, T, D\) = \(B, T, 4\)"),
        (dict(ok, x=np.zeros((B, T, D), dtype=int)), TypeError, r"x has dtype int64"),
        (dict(ok, x=np.zeros((B, T, D), dtype=np.float32)), TypeError, r"x has dtype float32.*expected float64"),
        (dict(ok, x=np.full((B, T, D), np.nan)), ValueError, r"x contains NaN or inf"),
        (dict(ok, h0=np.zeros((3, H))), ValueError, r"h0 has shape \(3, 5\); expected \(B, H\) = \(2, 5\)"),
        (dict(ok, c0=np.zeros((B, H + 1))), ValueError, r"c0 has shape \(2, 6\); expected \(B, H\) = \(2, 5\)"),
        (dict(ok, c0=np.full((B, H), np.inf)), ValueError, r"c0 contains NaN or inf"),
        (dict(ok, mask=np.ones((B, T + 1))), ValueError, r"mask has shape \(2, 4\); expected \(B, T\) = \(2, 3\)"),
        (dict(ok, mask=np.full((B, T), 0.5)), ValueError, r"mask must contain only 0 and 1; found 0.5"),
        (dict(ok, mask=np.full((B, T), "a")), TypeError, r"mask has dtype"),
    ]


@pytest.mark.parametrize("kwargs, exc, message", _bad_calls())
def test_bad_forward_input_is_a_clear_error_and_changes_nothing(kwargs, exc, message):
    lstm = LSTM(4, 5, rng=0)
    before = {k: v.copy() for k, v in lstm.params.items()}
    with pytest.raises(exc, match=message):
        lstm.forward(**kwargs)
    for k in before:
        np.testing.assert_array_equal(lstm.params[k], before[k])


def test_bad_backward_input_is_a_clear_error_and_changes_nothing(rng):
    lstm = LSTM(4, 5, rng=0)
    out, _, cache = lstm.forward(rng.standard_normal((2, 3, 4)))
    lstm.backward(np.ones_like(out), cache)
    grads = {k: v.copy() for k, v in lstm.grads.items()}
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 4\); expected \(B, T, H\) = \(2, 3, 5\)"):
        lstm.backward(np.ones((2, 3, 4)), cache)
    with pytest.raises(ValueError, match=r"dh_T has shape \(1, 5\); expected \(B, H\) = \(2, 5\)"):
        lstm.backward(np.ones_like(out), cache, dh_T=np.ones((1, 5)))
    with pytest.raises(ValueError, match=r"dc_T contains NaN"):
        lstm.backward(np.ones_like(out), cache, dc_T=np.full((2, 5), np.nan))
    with pytest.raises(TypeError, match=r"cache must be the LSTMCache"):
        lstm.backward(np.ones_like(out), (1, 2))
    for k in grads:
        np.testing.assert_array_equal(lstm.grads[k], grads[k])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_size=0, hidden_size=3), "input_size must be a positive integer"),
        (dict(input_size=2, hidden_size=2.5), "hidden_size must be a positive integer"),
        (dict(input_size=2, hidden_size=3, dtype=np.int32), "dtype must be float32 or float64"),
        (dict(input_size=2, hidden_size=3, rng="seed"), "rng must be a numpy.random.Generator"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        LSTM(**kwargs)
