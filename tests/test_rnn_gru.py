"""The vanilla RNN and the GRU: gradients, equivalences, values, weight exchange, errors.

Most tests run on both classes (parametrised over ``LAYERS``); each class's
module has ``step_forward(x, h_prev, **params)`` / ``step_backward(dh, cache)``
with the parameter names of its ``params`` dict, which the references use.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lstm_np.cells.gru as gru_module
import lstm_np.cells.rnn as rnn_module
from lstm_np.gradcheck import TOLERANCE, check_gradients
from lstm_np.sequence import GRU, RNN

LAYERS = [RNN, GRU]
STEPS = {RNN: rnn_module, GRU: gru_module}
both = pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)


# --------------------------------------------------------------------------- helpers


def make_inputs(cls, B, T, D, H, seed):
    rng = np.random.default_rng(seed)
    layer = cls(D, H, rng=rng)
    for k, v in layer.params.items():
        if k.startswith("b"):  # not just the zero initial biases
            v += 0.3 * rng.standard_normal(v.shape)
    return layer, rng.standard_normal((B, T, D)), rng.standard_normal((B, H))


def layer_gradient_errors(layer, x, h0=None, mask=None, final_grads=True, seed=0):
    """Relative errors of every gradient for the loss sum(out * R) + sum(h_T * Rh)."""
    rng = np.random.default_rng(seed)
    B, T, _ = x.shape
    H = layer.hidden_size
    R = rng.standard_normal((B, T, H))
    Rh = rng.standard_normal((B, H)) if final_grads else None
    arrays = {"x": x, **layer.params}
    if h0 is not None:
        arrays["h0"] = h0

    def loss():
        out, h, _ = layer.forward(x, h0, mask)
        return np.sum(out * R) + (np.sum(h * Rh) if final_grads else 0.0)

    _, _, cache = layer.forward(x, h0, mask)
    dx, dh0 = layer.backward(R, cache, dh_T=Rh)
    analytic = {"x": dx, "h0": dh0, **{k: g.copy() for k, g in layer.grads.items()}}
    return check_gradients(loss, arrays, analytic)


def step_by_step(layer, x, h0, mask):
    """Reference: the module's step function stepped by hand, mask applied explicitly."""
    step = STEPS[type(layer)].step_forward
    h, outs, caches = h0, [], []
    for t in range(x.shape[1]):
        h_new, cache = step(x[:, t], h, **layer.params)
        m = mask[:, t, None]
        h = m * h_new + (1 - m) * h
        outs.append(m * h_new)
        caches.append(cache)
    return np.stack(outs, axis=1), h, caches


def step_by_step_backward(cls, dout, caches, mask):
    """Reference BPTT with the single-step backward."""
    step_backward = STEPS[cls].step_backward
    B, T, H = dout.shape
    dh, grads, dxs = np.zeros((B, H)), None, []
    for t in reversed(range(T)):
        m = mask[:, t, None]
        dx, dh_prev, g = step_backward(m * (dh + dout[:, t]), caches[t])
        dh = dh_prev + (1 - m) * dh
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
        dxs.append(dx)
    return np.stack(dxs[::-1], axis=1), dh, grads


@st.composite
def problems(draw):
    B, T = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    D, H = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mask = (rng.random((B, T)) < draw(st.sampled_from([0.5, 0.8, 1.0]))).astype(float)
    return B, T, D, H, seed, mask


# --------------------------------------------------------------------------- gradients


@both
def test_step_gradients_match_numerical(cls, rng):
    B, D, H = 3, 4, 5
    layer, _, h_prev = make_inputs(cls, B, 1, D, H, seed=5)
    x = rng.standard_normal((B, D))
    R = rng.standard_normal((B, H))
    step = STEPS[cls]
    arrays = {"x": x, "h_prev": h_prev, **layer.params}

    def loss():
        return np.sum(step.step_forward(x, h_prev, **layer.params)[0] * R)

    dx, dh_prev, grads = step.step_backward(R, step.step_forward(x, h_prev, **layer.params)[1])
    errors = check_gradients(loss, arrays, {"x": dx, "h_prev": dh_prev, **grads})
    assert set(errors) == set(arrays)
    assert max(errors.values()) <= TOLERANCE, errors


@both
@pytest.mark.parametrize(
    "B, T, with_state, with_mask, final_grads",
    [
        (3, 5, False, False, False),  # plain
        (3, 5, True, False, False),   # initial state
        (3, 5, False, True, False),   # mask
        (3, 5, True, True, True),     # everything, with a gradient at the final state
        (2, 1, True, True, True),     # T = 1
        (1, 6, True, False, True),    # B = 1
        (2, 40, True, True, True),    # long T
    ],
)
def test_layer_gradients_match_numerical(cls, B, T, with_state, with_mask, final_grads):
    layer, x, h0 = make_inputs(cls, B, T, 3, 4, seed=B * 100 + T)
    mask = None
    if with_mask:
        mask = np.ones((B, T))
        mask[0, T // 2 :] = 0
        if B > 1 and T > 1:
            mask[-1, 0] = 0
    errors = layer_gradient_errors(layer, x, h0 if with_state else None, mask, final_grads)
    assert max(errors.values()) <= TOLERANCE, errors


@both
@given(problems())
def test_layer_gradcheck_property(cls, problem):
    B, T, D, H, seed, mask = problem
    layer, x, h0 = make_inputs(cls, B, T, D, H, seed)
    errors = layer_gradient_errors(layer, x, h0, mask, final_grads=True, seed=seed)
    assert max(errors.values()) <= TOLERANCE, errors


# --------------------------------------------------------------------------- equivalences


@both
@given(problems())
def test_layer_equals_step_stepped_by_hand(cls, problem):
    B, T, D, H, seed, mask = problem
    layer, x, h0 = make_inputs(cls, B, T, D, H, seed)
    out, h, cache = layer.forward(x, h0, mask)
    ref_out, ref_h, caches = step_by_step(layer, x, h0, mask)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h, ref_h, rtol=1e-12, atol=1e-13)

    dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    dx, dh0 = layer.backward(dout, cache)
    ref_dx, ref_dh0, ref_grads = step_by_step_backward(cls, dout, caches, mask)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh0, ref_dh0, rtol=1e-10, atol=1e-12)
    assert set(ref_grads) == set(layer.grads)
    for k in ref_grads:
        np.testing.assert_allclose(layer.grads[k], ref_grads[k], rtol=1e-10, atol=1e-12)


@both
@given(st.lists(st.integers(1, 7), min_size=1, max_size=5), st.integers(0, 1000))
def test_padded_batch_equals_unpadded_sequences(cls, lengths, seed):
    D, H, T, B = 3, 4, max(lengths), len(lengths)
    layer, x, _ = make_inputs(cls, B, T, D, H, seed)
    mask = (np.arange(T)[None, :] < np.array(lengths)[:, None]).astype(float)
    dout = np.random.default_rng(seed).standard_normal((B, T, H))

    out, h, cache = layer.forward(x, mask=mask)
    dx, _ = layer.backward(dout, cache)
    batch_grads = {k: g.copy() for k, g in layer.grads.items()}

    grad_sum = {k: np.zeros_like(g) for k, g in batch_grads.items()}
    for b, L in enumerate(lengths):
        out_b, h_b, cache_b = layer.forward(x[b : b + 1, :L])
        dx_b, _ = layer.backward(dout[b : b + 1, :L], cache_b)
        np.testing.assert_allclose(out[b, :L], out_b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(out[b, L:], 0.0)
        np.testing.assert_allclose(h[b], h_b[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dx[b, :L], dx_b[0], rtol=1e-10, atol=1e-13)
        np.testing.assert_array_equal(dx[b, L:], 0.0)  # padding passes no gradient
        for k in grad_sum:
            grad_sum[k] += layer.grads[k]
    for k in grad_sum:
        np.testing.assert_allclose(batch_grads[k], grad_sum[k], rtol=1e-10, atol=1e-12)


@both
@given(problems(), st.integers(1, 7))
def test_two_chunks_with_carried_state_equal_one_run(cls, problem, split):
    B, T, D, H, seed, mask = problem
    if T < 2:
        T, mask = 2, np.ones((B, 2))
    k = min(split, T - 1)
    layer, x, h0 = make_inputs(cls, B, T, D, H, seed)
    dout = np.random.default_rng(seed + 7).standard_normal((B, T, H))
    dh_T = np.random.default_rng(seed + 8).standard_normal((B, H))

    out, h, cache = layer.forward(x, h0, mask)
    dx, dh0 = layer.backward(dout, cache, dh_T=dh_T)
    whole = {kk: g.copy() for kk, g in layer.grads.items()}

    out1, h1, cache1 = layer.forward(x[:, :k], h0, mask[:, :k])
    out2, h2, cache2 = layer.forward(x[:, k:], h1, mask[:, k:])
    np.testing.assert_allclose(np.concatenate([out1, out2], axis=1), out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h2, h, rtol=1e-12, atol=1e-14)

    dx2, dh_mid = layer.backward(dout[:, k:], cache2, dh_T=dh_T)
    g2 = {kk: g.copy() for kk, g in layer.grads.items()}
    dx1, dh0_1 = layer.backward(dout[:, :k], cache1, dh_T=dh_mid)
    np.testing.assert_allclose(np.concatenate([dx1, dx2], axis=1), dx, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dh0_1, dh0, rtol=1e-10, atol=1e-13)
    for kk in whole:
        np.testing.assert_allclose(layer.grads[kk] + g2[kk], whole[kk], rtol=1e-10, atol=1e-12)


@both
@pytest.mark.parametrize("B, T", [(1, 5), (3, 1), (1, 1)])
def test_results_never_alias_the_cache_or_the_input(cls, B, T):
    """Size-1 axes make NumPy return views where a copy was meant."""
    layer, x, h0 = make_inputs(cls, B, T, 3, 4, seed=0)
    out, h, cache = layer.forward(x, h0)
    arrays = [a for a in cache if isinstance(a, np.ndarray)]
    for a in arrays:
        assert not np.shares_memory(out, a)
        assert not np.shares_memory(a, x)  # the cache keeps its own copy of the input
    x_before = x.copy()
    x[...] = 0.0  # the caller reuses its input buffer: backward must still be right
    layer.backward(np.ones_like(out), cache)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    _, _, cache2 = layer.forward(x_before, h0)
    layer.backward(np.ones_like(out), cache2)
    for k, g in layer.grads.items():
        np.testing.assert_array_equal(grads[k], g)


@both
def test_gradient_arriving_at_padded_output_is_ignored(cls, rng):
    layer = cls(2, 3, rng=rng)
    x = rng.standard_normal((2, 4, 2))
    _, _, cache = layer.forward(x, mask=np.array([[1, 1, 0, 0], [1, 1, 1, 1]]))
    dout = rng.standard_normal((2, 4, 3))
    dx1, dh1 = layer.backward(dout, cache)
    g1 = {k: v.copy() for k, v in layer.grads.items()}
    dout[0, 2:] = 1e6  # gradients sent to padded outputs must change nothing
    dx2, dh2 = layer.backward(dout, cache)
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(dh1, dh2)
    for k in g1:
        np.testing.assert_array_equal(g1[k], layer.grads[k])


@both
def test_fully_masked_sequence_keeps_initial_state(cls, rng):
    layer = cls(3, 4, rng=rng)
    x, h0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4))
    out, h, cache = layer.forward(x, h0, np.array([[0] * 5, [1] * 5]))
    np.testing.assert_array_equal(h[0], h0[0])
    np.testing.assert_array_equal(out[0], 0.0)
    assert not np.allclose(h[1], h0[1])
    dh_T = rng.standard_normal((2, 4))
    dx, dh0 = layer.backward(np.zeros_like(out), cache, dh_T=dh_T)
    np.testing.assert_array_equal(dh0[0], dh_T[0])  # passes straight through
    np.testing.assert_array_equal(dx[0], 0.0)


@both
def test_all_ones_mask_equals_no_mask(cls, rng):
    layer = cls(3, 4, rng=rng)
    x = rng.standard_normal((2, 5, 3))
    out, h, _ = layer.forward(x)
    out_m, h_m, _ = layer.forward(x, mask=np.ones((2, 5), dtype=bool))
    np.testing.assert_array_equal(out, out_m)
    np.testing.assert_array_equal(h, h_m)


# --------------------------------------------------------------------------- values by hand


def test_gru_step_values_by_hand():
    """D = H = 1, every number chosen by hand; expected values from the equations."""
    x, h_prev = np.array([[1.0]]), np.array([[0.5]])
    Wx = np.array([[0.5, -1.0, 2.0]])   # r, z, n
    Wh = np.array([[1.0, 2.0, -1.0]])
    bx = np.array([0.0, 0.5, 0.1])
    bh = np.array([-0.5, 0.0, 0.3])
    # a = x Wx + bx = (0.5, -0.5, 2.1);  u = h_prev Wh + bh = (0.0, 1.0, -0.2)
    r = 1 / (1 + math.exp(-0.5))                  # sigma(0.5 + 0.0)
    z = 1 / (1 + math.exp(-0.5))                  # sigma(-0.5 + 1.0)
    n = math.tanh(2.1 + r * -0.2)                 # r multiplies u_n, bias included
    h = (1 - z) * n + z * 0.5
    assert r == pytest.approx(0.6224593312018546, abs=1e-15)
    assert n == pytest.approx(0.9622557289073341, abs=1e-15)          # tanh(1.97550813...)
    h_ours, cache = gru_module.step_forward(x, h_prev, Wx, Wh, bx, bh)
    np.testing.assert_allclose(np.hstack(cache[4:7]), [[r, z, n]], rtol=0, atol=1e-12)  # r, z, n
    np.testing.assert_allclose(h_ours, [[h]], rtol=0, atol=1e-12)
    assert h_ours[0, 0] == pytest.approx(0.6745203370474491, abs=1e-12)

    # and its backward for dh = 1, by the chain rule written out by hand
    dn, dz = 1 - z, 0.5 - n
    da_n = dn * (1 - n**2)
    da_r, da_z = da_n * -0.2 * r * (1 - r), dz * z * (1 - z)
    dx, dh_prev, g = gru_module.step_backward(np.ones((1, 1)), cache)
    np.testing.assert_allclose(g["bx"], [da_r, da_z, da_n], rtol=0, atol=1e-12)
    np.testing.assert_allclose(g["bh"], [da_r, da_z, da_n * r], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, [[0.5 * da_r - 1.0 * da_z + 2.0 * da_n]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dh_prev, [[1.0 * da_r + 2.0 * da_z - 1.0 * da_n * r + z]], rtol=0, atol=1e-12)


def test_rnn_step_values_by_hand():
    x, h_prev = np.array([[1.0, -2.0]]), np.array([[0.5]])
    Wx, Wh, b = np.array([[0.3], [0.1]]), np.array([[0.8]]), np.array([0.2])
    h, cache = rnn_module.step_forward(x, h_prev, Wx, Wh, b)
    np.testing.assert_allclose(h, [[math.tanh(0.3 - 0.2 + 0.4 + 0.2)]], rtol=0, atol=1e-12)
    dx, dh_prev, g = rnn_module.step_backward(np.ones((1, 1)), cache)
    dz = 1 - math.tanh(0.7) ** 2
    np.testing.assert_allclose(dx, [[0.3 * dz, 0.1 * dz]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dh_prev, [[0.8 * dz]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(g["Wx"], [[dz], [-2 * dz]], rtol=0, atol=1e-12)


def test_gru_n_biases_are_not_interchangeable():
    """Moving the recurrent bias into the input bias keeps the function for r and z, not for n."""
    gru, x, h0 = make_inputs(GRU, 2, 4, 3, 4, seed=3)
    out, _, _ = gru.forward(x, h0)
    H = 4
    for block, same in ((slice(0, H), True), (slice(H, 2 * H), True), (slice(2 * H, 3 * H), False)):
        moved = GRU.from_torch(gru.to_torch())
        moved.params["bx"][block] += moved.params["bh"][block]
        moved.params["bh"][block] = 0.0
        out_moved, _, _ = moved.forward(x, h0)
        assert bool(np.allclose(out_moved, out, rtol=1e-12, atol=1e-14)) == same


# --------------------------------------------------------------------------- dtypes and init


@both
def test_float32_is_preserved_end_to_end(cls, rng):
    layer = cls(3, 4, rng=0, dtype=np.float32)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1] * 5])
    out, h, cache = layer.forward(x, mask=mask)
    assert out.dtype == h.dtype == np.float32
    assert all(a.dtype == np.float32 for a in cache if isinstance(a, np.ndarray))
    dx, dh0 = layer.backward(np.ones_like(out), cache)
    assert dx.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    out64, _, _ = cls(3, 4, rng=0).forward(x.astype(np.float64), mask=mask)
    np.testing.assert_allclose(out, out64, rtol=1e-5, atol=1e-6)


@both
def test_same_seed_same_weights_different_seed_different_weights(cls):
    a, b, c = cls(3, 4, rng=7), cls(3, 4, rng=np.random.default_rng(7)), cls(3, 4, rng=8)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["Wx"], c.params["Wx"])


@both
def test_init_scheme(cls, rng):
    D, H = 5, 6
    layer = cls(D, H, rng=rng)
    gates = 3 if cls is GRU else 1
    Wx, Wh = layer.params["Wx"], layer.params["Wh"]
    assert Wx.shape == (D, gates * H) and Wh.shape == (H, gates * H)
    assert np.abs(Wx).max() <= np.sqrt(6 / (D + H))
    for k in range(gates):  # each gate's recurrent block is orthogonal
        block = Wh[:, k * H : (k + 1) * H]
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-12)
    if gates > 1:
        assert not np.allclose(Wh[:, :H], Wh[:, H : 2 * H])
        assert not np.allclose(Wx[:, :H], Wx[:, H : 2 * H])
    for k, v in layer.params.items():
        if k.startswith("b"):
            assert v.shape == (gates * H,)
            np.testing.assert_array_equal(v, 0.0)


# --------------------------------------------------------------------------- weight exchange


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def torch_reference(cls, sd, x, h0):
    """nn.RNN / nn.GRU's documented equations, from the state dict, batch_first.
    nn.GRU rows of weight_ih_l0 are W_ir | W_iz | W_in."""
    h, outs = h0, []
    if cls is RNN:
        W_ih, W_hh, b_ih, b_hh = (sd[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
            outs.append(h)
        return np.stack(outs, 1), h
    W_ir, W_iz, W_in = np.split(sd["weight_ih_l0"], 3)
    W_hr, W_hz, W_hn = np.split(sd["weight_hh_l0"], 3)
    b_ir, b_iz, b_in = np.split(sd["bias_ih_l0"], 3)
    b_hr, b_hz, b_hn = np.split(sd["bias_hh_l0"], 3)
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = sig(xt @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sig(xt @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = np.tanh(xt @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        h = (1 - z) * n + z * h
        outs.append(h)
    return np.stack(outs, 1), h


def keras_reference(cls, weights, x, h0):
    """Keras SimpleRNN, and GRU with reset_after=True: kernel columns z | r | h,
    bias = [input bias, recurrent bias]; hh = tanh(x_h + r * (h rec_h + rb_h)),
    h = z * h_prev + (1 - z) * hh."""
    h, outs = h0, []
    if cls is RNN:
        kernel, rec, bias = weights
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ kernel + bias + h @ rec)
            outs.append(h)
        return np.stack(outs, 1), h
    kernel, rec, (bias_i, bias_r) = weights
    H = rec.shape[0]
    for t in range(x.shape[1]):
        x_z, x_r, x_h = np.split(x[:, t] @ kernel + bias_i, 3, axis=1)
        rec_z, rec_r, rec_h = np.split(h @ rec + bias_r, 3, axis=1)
        z = sig(x_z + rec_z)
        r = sig(x_r + rec_r)
        hh = np.tanh(x_h + r * rec_h)
        h = z * h + (1 - z) * hh
        outs.append(h)
    assert h.shape[1] == H
    return np.stack(outs, 1), h


def gates(cls):
    return 3 if cls is GRU else 1


def torch_state_dict(cls, rng, D=3, H=4):
    G = gates(cls)
    shapes = {"weight_ih_l0": (G * H, D), "weight_hh_l0": (G * H, H), "bias_ih_l0": (G * H,), "bias_hh_l0": (G * H,)}
    return {k: rng.uniform(-0.8, 0.8, s) for k, s in shapes.items()}


def keras_weights(cls, rng, D=3, H=4):
    G = gates(cls)
    bias_shape = (2, 3 * H) if cls is GRU else (H,)
    return [rng.uniform(-0.8, 0.8, s) for s in ((D, G * H), (H, G * H), bias_shape)]


@both
def test_torch_weights_reproduce_torch_equations(cls, rng):
    sd = torch_state_dict(cls, rng)
    x, h0 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 4))
    out, h, _ = cls.from_torch(sd).forward(x, h0)
    ref_out, ref_h = torch_reference(cls, sd, x, h0)
    np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, ref_h, rtol=1e-13, atol=1e-15)


@both
def test_keras_weights_reproduce_keras_equations(cls, rng):
    weights = keras_weights(cls, rng)
    x, h0 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 4))
    out, h, _ = cls.from_keras(weights).forward(x, h0)
    ref_out, ref_h = keras_reference(cls, weights, x, h0)
    np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, ref_h, rtol=1e-13, atol=1e-15)


@both
def test_torch_round_trip_is_exact(cls, rng):
    layer, x, h0 = make_inputs(cls, 2, 5, 3, 4, seed=11)
    sd = layer.to_torch()
    G = gates(cls)
    assert {k: v.shape for k, v in sd.items()} == {
        "weight_ih_l0": (4 * G, 3), "weight_hh_l0": (4 * G, 4), "bias_ih_l0": (4 * G,), "bias_hh_l0": (4 * G,)
    }
    back = cls.from_torch(sd)
    assert set(back.params) == set(layer.params)
    for k in layer.params:
        np.testing.assert_array_equal(back.params[k], layer.params[k])
    np.testing.assert_allclose(layer.forward(x, h0)[0], torch_reference(cls, sd, x, h0)[0], rtol=1e-13, atol=1e-15)


@both
def test_keras_round_trip_is_exact(cls, rng):
    layer, x, h0 = make_inputs(cls, 2, 5, 3, 4, seed=12)
    weights = layer.to_keras()
    assert [w.shape for w in weights] == ([(3, 12), (4, 12), (2, 12)] if cls is GRU else [(3, 4), (4, 4), (4,)])
    back = cls.from_keras(weights)
    for k in layer.params:
        np.testing.assert_array_equal(back.params[k], layer.params[k])
    np.testing.assert_allclose(layer.forward(x, h0)[0], keras_reference(cls, weights, x, h0)[0], rtol=1e-13, atol=1e-15)


def test_gru_keras_gate_order_is_z_r_h(rng):
    gru, _, _ = make_inputs(GRU, 1, 1, 3, 4, seed=13)
    kernel, rec, bias = gru.to_keras()
    H = 4
    np.testing.assert_array_equal(kernel[:, :H], gru.params["Wx"][:, H : 2 * H])   # z
    np.testing.assert_array_equal(kernel[:, H : 2 * H], gru.params["Wx"][:, :H])   # r
    np.testing.assert_array_equal(rec[:, 2 * H :], gru.params["Wh"][:, 2 * H :])   # h = n
    np.testing.assert_array_equal(bias[1, 2 * H :], gru.params["bh"][2 * H :])     # recurrent bias row


@both
def test_without_bias_and_dtype(cls, rng):
    sd32 = {k: v.astype(np.float32) for k, v in torch_state_dict(cls, rng).items() if k.startswith("weight")}
    layer = cls.from_torch(sd32)
    assert layer.dtype == np.float32
    for k, v in layer.params.items():
        if k.startswith("b"):
            assert v.dtype == np.float32
            np.testing.assert_array_equal(v, 0.0)
    k2 = cls.from_keras(keras_weights(cls, rng)[:2], dtype=np.float32)
    assert all(v.dtype == np.float32 for v in k2.params.values())


@both
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda sd: sd.update(weight_ih_l1=sd["weight_ih_l0"]), "weight_ih_l1"),
        (lambda sd: sd.pop("weight_hh_l0"), "missing 'weight_hh_l0'"),
        (lambda sd: sd.update(weight_hh_l0=np.zeros((1, 5))), r"weight_hh_l0 has shape \(1, 5\); expected"),
        (lambda sd: sd.update(bias_ih_l0=np.zeros(2)), r"bias_ih_l0 has shape \(2,\)"),
        (lambda sd: sd.update(weight_ih_l0=np.zeros((3,))), r"weight_ih_l0 has shape \(3,\); expected"),
    ],
)
def test_torch_bad_state_dict_is_a_clear_error(cls, rng, change, message):
    sd = torch_state_dict(cls, rng)
    change(sd)
    with pytest.raises(ValueError, match=message):
        cls.from_torch(sd)


def test_gru_bad_keras_weights_are_clear_errors(rng):
    with pytest.raises(ValueError, match=r"expected \[kernel, recurrent_kernel, bias\]"):
        GRU.from_keras([np.zeros((3, 12))])
    with pytest.raises(ValueError, match=r"recurrent_kernel has shape \(5, 12\); expected \(H, 3H\) = \(4, 12\)"):
        GRU.from_keras([np.zeros((3, 12)), np.zeros((5, 12)), np.zeros((2, 12))])
    with pytest.raises(ValueError, match="reset_after=False"):
        GRU.from_keras([np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12)])
    with pytest.raises(ValueError, match=r"kernel has shape \(3, 10\); expected \(D, 3H\)"):
        GRU.from_keras([np.zeros((3, 10)), np.zeros((4, 12))])
    with pytest.raises(ValueError, match=r"recurrent_kernel has shape \(5, 4\); expected \(H, H\) = \(4, 4\)"):
        RNN.from_keras([np.zeros((3, 4)), np.zeros((5, 4))])


@both
def test_matches_real_torch_when_installed(cls, rng):
    """Optional: outputs and all gradients against nn.RNN / nn.GRU in float64."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    m = getattr(torch.nn, cls.__name__)(3, 5, batch_first=True).double()
    x, h0 = rng.standard_normal((4, 7, 3)), rng.standard_normal((4, 5))
    xt, h0t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(h0)[None].requires_grad_()
    y, h_n = m(xt, h0t)
    R, Rh = rng.standard_normal(y.shape), rng.standard_normal((4, 5))
    ((y * torch.from_numpy(R)).sum() + (h_n[0] * torch.from_numpy(Rh)).sum()).backward()

    layer = cls.from_torch({k: v.detach().numpy() for k, v in m.state_dict().items()})
    out, h, cache = layer.forward(x, h0)
    np.testing.assert_allclose(out, y.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h, h_n[0].detach().numpy(), rtol=1e-12, atol=1e-14)

    dx, dh0 = layer.backward(R, cache, dh_T=Rh)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dh0, h0t.grad[0].numpy(), rtol=1e-10, atol=1e-13)
    torch_grads = {k: p.grad.numpy() for k, p in m.named_parameters()}
    g = layer.grads  # in torch's layout: transposed; the GRU's gate order is torch's
    ours_as_torch = {
        "weight_ih_l0": g["Wx"].T,
        "weight_hh_l0": g["Wh"].T,
        "bias_ih_l0": g["bx"] if cls is GRU else g["b"],  # the RNN's one bias gets the
        "bias_hh_l0": g["bh"] if cls is GRU else g["b"],  # gradient of each of torch's two
    }
    assert set(ours_as_torch) == set(torch_grads)
    for k in torch_grads:
        np.testing.assert_allclose(ours_as_torch[k], torch_grads[k], rtol=1e-10, atol=1e-13, err_msg=k)


# --------------------------------------------------------------------------- bad input


def _bad_calls():
    B, T, D, H = 2, 3, 4, 5
    ok = dict(x=np.zeros((B, T, D)), h0=np.zeros((B, H)), mask=np.ones((B, T)))
    return [
        (dict(ok, x=np.zeros((B, D))), ValueError, r"x has shape \(2, 4\); expected \(B, T, D\) = \(B, T, 4\)"),
        (dict(ok, x=np.zeros((B, T, D + 1))), ValueError, r"x has shape \(2, 3, 5\); expected \(B, T, D\) = \(B, T, 4\)"),
        (dict(ok, x=np.zeros((B, 0, D))), ValueError, r"x has shape \(2, 0, 4\); expected at least one"),
        (dict(ok, x=np.zeros((B, T, D), dtype=int)), TypeError, r"x has dtype int64"),
        (dict(ok, x=np.zeros((B, T, D), dtype=np.float32)), TypeError, r"x has dtype float32.*expected float64"),
        (dict(ok, x=np.full((B, T, D), np.nan)), ValueError, r"x contains NaN or inf"),
        (dict(ok, h0=np.zeros((3, H))), ValueError, r"h0 has shape \(3, 5\); expected \(B, H\) = \(2, 5\)"),
        (dict(ok, h0=np.full((B, H), np.inf)), ValueError, r"h0 contains NaN or inf"),
        (dict(ok, mask=np.ones((B, T + 1))), ValueError, r"mask has shape \(2, 4\); expected \(B, T\) = \(2, 3\)"),
        (dict(ok, mask=np.full((B, T), 0.5)), ValueError, r"mask must contain only 0 and 1; found 0.5"),
        (dict(ok, mask=np.full((B, T), "a")), TypeError, r"mask has dtype"),
    ]


@both
@pytest.mark.parametrize("kwargs, exc, message", _bad_calls())
def test_bad_forward_input_is_a_clear_error_and_changes_nothing(cls, kwargs, exc, message):
    layer = cls(4, 5, rng=0)
    before = {k: v.copy() for k, v in layer.params.items()}
    with pytest.raises(exc, match=message):
        layer.forward(**kwargs)
    for k in before:
        np.testing.assert_array_equal(layer.params[k], before[k])


@both
def test_bad_backward_input_is_a_clear_error_and_changes_nothing(cls, rng):
    layer = cls(4, 5, rng=0)
    out, _, cache = layer.forward(rng.standard_normal((2, 3, 4)))
    layer.backward(np.ones_like(out), cache)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 4\); expected \(B, T, H\) = \(2, 3, 5\)"):
        layer.backward(np.ones((2, 3, 4)), cache)
    with pytest.raises(ValueError, match=r"dh_T has shape \(1, 5\); expected \(B, H\) = \(2, 5\)"):
        layer.backward(np.ones_like(out), cache, dh_T=np.ones((1, 5)))
    with pytest.raises(ValueError, match=r"dh_T contains NaN"):
        layer.backward(np.ones_like(out), cache, dh_T=np.full((2, 5), np.nan))
    with pytest.raises(TypeError, match=rf"cache must be the {cls.__name__}Cache returned by forward"):
        layer.backward(np.ones_like(out), (1, 2))
    other = (GRU if cls is RNN else RNN)(4, 5, rng=0)
    with pytest.raises(TypeError, match=rf"cache must be the {cls.__name__}Cache"):
        layer.backward(np.ones_like(out), other.forward(rng.standard_normal((2, 3, 4)))[2])
    for k in grads:
        np.testing.assert_array_equal(layer.grads[k], grads[k])


@both
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_size=0, hidden_size=3), "input_size must be a positive integer"),
        (dict(input_size=2, hidden_size=2.5), "hidden_size must be a positive integer"),
        (dict(input_size=2, hidden_size=3, dtype=np.int32), "dtype must be float32 or float64"),
        (dict(input_size=2, hidden_size=3, rng="seed"), "rng must be a numpy.random.Generator"),
    ],
)
def test_bad_constructor_arguments(cls, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        cls(**kwargs)
