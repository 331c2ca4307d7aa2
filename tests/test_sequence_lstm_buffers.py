"""The layer's buffers: results never alias each other or later calls, the cache
survives backward, and the chunked backward equals the one-chunk backward."""

import numpy as np
import pytest

import lstm_np.sequence.lstm as layer
from lstm_np.gradcheck import TOLERANCE, check_gradients
from lstm_np.sequence.lstm import LSTM


def make(B=3, T=7, D=4, H=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    lstm = LSTM(D, H, rng=rng, dtype=dtype)
    lstm.params["b"] += (0.3 * rng.standard_normal(4 * H)).astype(dtype)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    h0, c0 = rng.standard_normal((2, B, H)).astype(dtype)
    dout = rng.standard_normal((B, T, H)).astype(dtype)
    dh_T, dc_T = rng.standard_normal((2, B, H)).astype(dtype)
    mask = (np.arange(T)[None, :] < rng.integers(1, T + 1, B)[:, None]).astype(dtype)
    return lstm, x, h0, c0, dout, dh_T, dc_T, mask


def run(lstm, x, h0, c0, dout, dh_T, dc_T, mask):
    out, (h, c), cache = lstm.forward(x, h0, c0, mask)
    dx, dh0, dc0 = lstm.backward(dout, cache, dh_T, dc_T)
    return dict(out=out, h=h, c=c, dx=dx, dh0=dh0, dc0=dc0, **{k: g.copy() for k, g in lstm.grads.items()})


@pytest.mark.parametrize("B, T", [(3, 7), (1, 7), (3, 1), (1, 1)])  # size-1 axes make views easy to return
@pytest.mark.parametrize("with_mask", [False, True])
def test_results_of_two_calls_do_not_alias(with_mask, B, T):
    lstm, x, h0, c0, dout, dh_T, dc_T, mask = make(B=B, T=T)
    mask = mask if with_mask else None
    out1, (h1, c1), cache1 = lstm.forward(x, h0, c0, mask)
    kept = out1.copy(), h1.copy(), c1.copy()
    dx1, dh01, dc01 = lstm.backward(dout, cache1, dh_T, dc_T)
    kept_grads = dx1.copy(), dh01.copy(), dc01.copy()

    out2, (h2, c2), cache2 = lstm.forward(2 * x, c0, h0, mask)
    dx2, dh02, dc02 = lstm.backward(-dout, cache2)

    first = (out1, h1, c1, dx1, dh01, dc01)
    second = (out2, h2, c2, dx2, dh02, dc02)
    for a in first:
        for b in (*second, *cache2[:5]):
            assert not np.shares_memory(a, b)
    for a in (out1, h1, c1):  # and no result is a view into its own cache
        for b in cache1[:5]:
            assert not np.shares_memory(a, b)
    for a, b in zip((out1, h1, c1, dx1, dh01, dc01), (*kept, *kept_grads)):
        np.testing.assert_array_equal(a, b)  # the second call changed nothing of the first


def test_inputs_are_not_modified():
    lstm, x, h0, c0, dout, dh_T, dc_T, mask = make()
    before = [a.copy() for a in (x, h0, c0, dout, dh_T, dc_T, mask)]
    run(lstm, x, h0, c0, dout, dh_T, dc_T, mask)
    for a, b in zip((x, h0, c0, dout, dh_T, dc_T, mask), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("with_mask", [False, True])
def test_repeated_calls_give_identical_results(with_mask):
    lstm, x, h0, c0, dout, dh_T, dc_T, mask = make(seed=1)
    mask = mask if with_mask else None
    first = run(lstm, x, h0, c0, dout, dh_T, dc_T, mask)
    second = run(lstm, x, h0, c0, dout, dh_T, dc_T, mask)
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])


def test_backward_leaves_the_cache_unchanged():
    lstm, x, h0, c0, dout, dh_T, dc_T, mask = make(seed=2)
    _, _, cache = lstm.forward(x, h0, c0, mask)
    saved = [a.copy() if isinstance(a, np.ndarray) else a for a in cache]
    dx1, _, _ = lstm.backward(dout, cache, dh_T, dc_T)
    for a, b in zip(cache, saved):
        if isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b)
    dx2, _, _ = lstm.backward(dout, cache, dh_T, dc_T)
    np.testing.assert_array_equal(dx1, dx2)


@pytest.mark.parametrize("K, k", [(1, 1), (2, 1), (3, 2), (3, 3), (6, 4), (7, 1), (7, 3)])
@pytest.mark.parametrize("with_mask", [False, True])
def test_chunked_backward_equals_one_chunk(monkeypatch, K, k, with_mask):
    """K steps per chunk of weight gradients, k per block of local derivatives."""
    problem = make(B=3, T=7, seed=3)
    if not with_mask:
        problem = (*problem[:-1], None)
    assert layer._chunk_steps(7, 3, 4 * 5) == (7, 7)
    whole = run(*problem)  # small problem: one chunk, one block of all T steps
    monkeypatch.setattr(layer, "_chunk_steps", lambda T, B, H4: (K, k))
    chunked = run(*problem)
    for name in whole:
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-12, atol=1e-13, err_msg=name)


def test_default_chunks_split_a_long_sequence(monkeypatch):
    B, T, H = 64, 130, 128
    K, k = layer._chunk_steps(T, B, 4 * H)
    assert 1 < k < K < T  # the default really splits this one, in blocks within chunks
    problem = make(B=B, T=T, D=3, H=H, seed=4)
    chunked = run(*problem)
    monkeypatch.setattr(layer, "_chunk_steps", lambda T, B, H4: (T, T))
    whole = run(*problem)
    for name in whole:
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-11, atol=1e-12, err_msg=name)


def test_float32_chunks_stay_float32(monkeypatch):
    monkeypatch.setattr(layer, "_chunk_steps", lambda T, B, H4: (2, 1))
    res = run(*make(dtype=np.float32, seed=5))
    assert all(v.dtype == np.float32 for v in res.values())


@pytest.mark.parametrize("K, k", [(1, 1), (3, 2), (7, 1)])
def test_chunked_backward_passes_the_gradient_check(monkeypatch, K, k):
    """Independent of the one-chunk path: numerical gradients with several chunks."""
    monkeypatch.setattr(layer, "_chunk_steps", lambda T, B, H4: (K, k))
    lstm, x, h0, c0, dout, dh_T, dc_T, mask = make(B=2, T=7, D=3, H=4, seed=6)

    def loss():
        out, (h, c), _ = lstm.forward(x, h0, c0, mask)
        return np.sum(out * dout) + np.sum(h * dh_T) + np.sum(c * dc_T)

    _, _, cache = lstm.forward(x, h0, c0, mask)
    dx, dh0, dc0 = lstm.backward(dout, cache, dh_T, dc_T)
    analytic = {"x": dx, "h0": dh0, "c0": dc0, **{k: g.copy() for k, g in lstm.grads.items()}}
    errors = check_gradients(loss, {"x": x, "h0": h0, "c0": c0, **lstm.params}, analytic)
    assert max(errors.values()) <= TOLERANCE, errors


# ---------------------------------------------------------------- forward(..., reuse=cache)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("with_mask", [False, True])
def test_reuse_gives_the_results_of_a_fresh_call(dtype, with_mask):
    lstm, x, h0, c0, dout, dh_T, dc_T, mask = make(dtype=dtype, seed=8)
    mask = mask if with_mask else None
    fresh = run(lstm, x, h0, c0, dout, dh_T, dc_T, mask)

    _, _, old = lstm.forward(-3 * x[:, ::-1], c0, h0)  # a cache holding other values
    arrays = old[:5]
    out, (h, c), cache = lstm.forward(x, h0, c0, mask, reuse=old)
    dx, dh0, dc0 = lstm.backward(dout, cache, dh_T, dc_T)
    reused = dict(out=out, h=h, c=c, dx=dx, dh0=dh0, dc0=dc0, **lstm.grads)
    for k in fresh:
        np.testing.assert_array_equal(reused[k], fresh[k], err_msg=k)
    assert all(new is old_a for new, old_a in zip(cache[:5], arrays))  # the same memory, no new arrays
    for a in (out, h, c):
        assert not any(np.shares_memory(a, b) for b in arrays)


def test_reuse_in_a_loop_matches_fresh_calls():
    lstm, x, h0, c0, dout, dh_T, dc_T, mask = make(seed=9)
    rng = np.random.default_rng(0)
    cache = None
    for _ in range(3):
        xi = rng.standard_normal(x.shape)
        out, _, cache = lstm.forward(xi, reuse=cache)
        lstm.backward(dout, cache)
        got = out.copy(), {k: g.copy() for k, g in lstm.grads.items()}
        ref_out, _, ref_cache = lstm.forward(xi)
        lstm.backward(dout, ref_cache)
        np.testing.assert_array_equal(got[0], ref_out)
        for k, g in lstm.grads.items():
            np.testing.assert_array_equal(got[1][k], g)


def test_outputs_kept_across_reuse_calls_stay_as_they_were():
    """Step-by-step generation (T = 1, B = 1): every kept output is its own."""
    lstm = LSTM(3, 4, rng=0)
    xs = np.random.default_rng(1).standard_normal((5, 1, 1, 3))
    h = c = cache = None
    kept, copies = [], []
    for x in xs:
        out, (h, c), cache = lstm.forward(x, h, c, reuse=cache)
        kept.append(out)
        copies.append(out.copy())
    for out, copy in zip(kept, copies):
        np.testing.assert_array_equal(out, copy)
    assert len({round(float(o.sum()), 12) for o in kept}) == len(kept)


def test_reuse_of_a_cache_of_other_sizes_is_refused():
    lstm, x, *_ = make()  # B = 3, T = 7
    _, _, old = lstm.forward(x)
    before = [a.copy() for a in old[:5]]
    for x2, match in [(x[:, :6], r"the cache's x is \(21, 4\) float64; this call \(B=3, T=6"),
                      (x[:2], r"the cache's x is \(21, 4\) float64; this call \(B=2, T=7")]:
        with pytest.raises(ValueError, match=match):
            lstm.forward(x2, reuse=old)
    for a, b in zip(old[:5], before):
        np.testing.assert_array_equal(a, b)  # a refused call writes nothing


def _refused(lstm, x, old, match, **kwargs):
    before = [a.copy() for a in old[:5]]
    with pytest.raises(ValueError, match=match):
        lstm.forward(x, reuse=old, **kwargs)
    for a, b in zip(old[:5], before):
        np.testing.assert_array_equal(a, b)  # a refused call writes nothing


def test_reuse_of_another_layers_cache_is_refused():
    lstm, x, *_ = make()
    twin = LSTM(4, 5, rng=1)  # same sizes and dtype: only the origin differs
    _, _, old = twin.forward(x)
    _refused(lstm, x, old, "made by another layer")
    f32 = LSTM(4, 5, rng=1, dtype=np.float32)
    _, _, old32 = f32.forward(x.astype(np.float32))
    _refused(lstm, x, old32, "made by another layer")


def test_reuse_of_a_damaged_cache_is_refused():
    lstm, x, *_ = make()
    _, _, old = lstm.forward(x)
    _refused(lstm, x, old._replace(act=np.asfortranarray(old.act)), r"the cache's act is \(7, 3, 20\).*contiguous")
    _refused(lstm, x, old._replace(cs=old.hs), "hs shares memory with another of its arrays")
    old.tanh_c.setflags(write=False)
    _refused(lstm, x, old, "tanh_c is read-only")


def test_reuse_must_be_a_cache_and_must_not_overlap_an_input_or_a_parameter():
    lstm, x, h0, c0, *_ = make()
    _, _, old = lstm.forward(x)
    with pytest.raises(TypeError, match="reuse must be an LSTMCache"):
        lstm.forward(x, reuse=tuple(old))
    h_in_cache = old.hs[0]  # a view into the cache's hs, used as this call's h0
    h_in_cache[...] = h0
    _refused(lstm, x, old, "shares memory with another of its arrays, a parameter or an input", h0=h_in_cache)
    c_in_cache = old.cs[-1]
    c_in_cache[...] = c0
    _refused(lstm, x, old, "an input of this call", c0=c_in_cache)
    x_in_cache = old.x.reshape(7, 3, 4).transpose(1, 0, 2)  # the cache's own copy of x, as the input
    _refused(lstm, x_in_cache, old, "an input of this call")


def test_backward_refuses_a_cache_overwritten_by_a_later_reuse():
    lstm, x, h0, c0, dout, *_ = make()
    _, _, first = lstm.forward(x)
    _, _, second = lstm.forward(2 * x, reuse=first)  # first's arrays now hold the second call
    with pytest.raises(ValueError, match="overwritten by a later forward"):
        lstm.backward(dout, first)
    lstm.backward(dout, second)  # the newest cache is fine
    _, _, third = lstm.forward(x, reuse=second)
    with pytest.raises(ValueError, match="overwritten by a later forward"):
        lstm.backward(dout, second)
    lstm.backward(dout, third)
