"""Two levels, one truth: the fast sequence layers equal the reference steps.

``lstm_np.cells`` holds one step of each cell written as its equations;
``lstm_np.sequence`` runs whole sequences with fused kernels, chunked
backward and reused buffers. Here the reference step is run by hand over a
sequence (the mask applied explicitly: a padded step keeps the state and
passes the gradient through) and every output and gradient of the layer must
agree with it to 1e-12 in float64, on every path: masks, random initial
states, gradients arriving at the final state, backward in chunks and blocks
of every size, and ``forward(..., reuse=cache)``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstm_np.sequence.lstm as lstm_module
from lstm_np.cells import gru as gru_cell
from lstm_np.cells import lstm as lstm_cell
from lstm_np.cells import rnn as rnn_cell
from lstm_np.sequence import GRU, LSTM, RNN

TOL = dict(rtol=1e-12, atol=1e-12)


def reference_lstm(p, x, h0, c0, mask, dout, dh_T, dc_T):
    """Forward and backward of the LSTM with ``cells.lstm`` stepped by hand."""
    B, T, _ = x.shape
    h, c, outs, caches = h0, c0, [], []
    for t in range(T):
        h_new, c_new, cache = lstm_cell.step_forward(x[:, t], h, c, p["Wx"], p["Wh"], p["b"])
        m = mask[:, t, None]
        h, c = m * h_new + (1 - m) * h, m * c_new + (1 - m) * c
        outs.append(m * h_new)
        caches.append(cache)
    dh, dc, grads, dxs = dh_T.copy(), dc_T.copy(), {k: np.zeros_like(v) for k, v in p.items()}, []
    for t in reversed(range(T)):
        m = mask[:, t, None]
        dx, dh_prev, dc_prev, g = lstm_cell.step_backward(m * (dh + dout[:, t]), m * dc, caches[t])
        dh, dc = m * dh_prev + (1 - m) * dh, m * dc_prev + (1 - m) * dc
        grads = {k: grads[k] + g[k] for k in grads}
        dxs.append(dx)
    return np.stack(outs, 1), (h, c), (np.stack(dxs[::-1], 1), dh, dc), grads


def reference_single_state(module, p, x, h0, mask, dout, dh_T):
    """The same for the GRU or RNN step (``cells.gru``, ``cells.rnn``)."""
    B, T, _ = x.shape
    h, outs, caches = h0, [], []
    for t in range(T):
        h_new, cache = module.step_forward(x[:, t], h, *p.values())
        m = mask[:, t, None]
        h = m * h_new + (1 - m) * h
        outs.append(m * h_new)
        caches.append(cache)
    dh, grads, dxs = dh_T.copy(), {k: np.zeros_like(v) for k, v in p.items()}, []
    for t in reversed(range(T)):
        m = mask[:, t, None]
        dx, dh_prev, g = module.step_backward(m * (dh + dout[:, t]), caches[t])
        dh = m * dh_prev + (1 - m) * dh
        grads = {k: grads[k] + g[k] for k in grads}
        dxs.append(dx)
    return np.stack(outs, 1), h, (np.stack(dxs[::-1], 1), dh), grads


@st.composite
def problems(draw):
    B, T = draw(st.integers(1, 4)), draw(st.integers(1, 7))
    D, H = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keep = draw(st.sampled_from([0.4, 0.8, 1.0]))
    mask = (rng.random((B, T)) < keep).astype(float)
    return B, T, D, H, rng, mask


def _inputs(rng, B, T, D, H):
    return (rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
            rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H)))


def _perturb_biases(layer, rng):
    for k in layer.params:
        if k.startswith("b"):
            layer.params[k] += 0.5 * rng.standard_normal(layer.params[k].shape)


@settings(max_examples=40, deadline=None)
@given(problems(), st.integers(1, 7), st.integers(1, 7), st.booleans())
def test_lstm_layer_equals_reference_steps(problem, K, k, reuse):
    """Masks, initial states, final-state gradients, every chunk/block size, with and without reuse."""
    B, T, D, H, rng, mask = problem
    lstm = LSTM(D, H, rng=rng)
    _perturb_biases(lstm, rng)
    x, h0, c0, dout, dh_T, dc_T = _inputs(rng, B, T, D, H)
    ref_out, (ref_h, ref_c), (ref_dx, ref_dh0, ref_dc0), ref_grads = reference_lstm(
        lstm.params, x, h0, c0, mask, dout, dh_T, dc_T)

    with pytest.MonkeyPatch.context() as mp:
        K = min(K, T)
        mp.setattr(lstm_module, "_chunk_steps", lambda T_, B_, H4: (K, min(k, K)))
        cache = None
        if reuse:  # a cache of the same sizes, filled by another input first
            _, _, cache = lstm.forward(rng.standard_normal((B, T, D)), mask=mask)
        out, (h, c), cache = lstm.forward(x, h0, c0, mask, reuse=cache)
        dx, dh0, dc0 = lstm.backward(dout, cache, dh_T, dc_T)

    for name, ours, ref in [("out", out, ref_out), ("h_T", h, ref_h), ("c_T", c, ref_c), ("dx", dx, ref_dx),
                            ("dh0", dh0, ref_dh0), ("dc0", dc0, ref_dc0),
                            *((f"d{n}", lstm.grads[n], ref_grads[n]) for n in ref_grads)]:
        np.testing.assert_allclose(ours, ref, **TOL, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(problems(), st.sampled_from(["gru", "rnn"]))
def test_gru_and_rnn_layers_equal_reference_steps(problem, which):
    B, T, D, H, rng, mask = problem
    cls, module = {"gru": (GRU, gru_cell), "rnn": (RNN, rnn_cell)}[which]
    layer = cls(D, H, rng=rng)
    _perturb_biases(layer, rng)
    x, h0, _, dout, dh_T, _ = _inputs(rng, B, T, D, H)
    ref_out, ref_h, (ref_dx, ref_dh0), ref_grads = reference_single_state(
        module, layer.params, x, h0, mask, dout, dh_T)
    out, h, cache = layer.forward(x, h0, mask)
    dx, dh0 = layer.backward(dout, cache, dh_T)
    for name, ours, ref in [("out", out, ref_out), ("h_T", h, ref_h), ("dx", dx, ref_dx), ("dh0", dh0, ref_dh0),
                            *((f"d{n}", layer.grads[n], ref_grads[n]) for n in ref_grads)]:
        np.testing.assert_allclose(ours, ref, **TOL, err_msg=f"{which} {name}")


def test_reference_is_not_trivially_equal():
    """Control: a reference with the forget-gate path dropped differs from the layer, so the tests above can fail."""
    rng = np.random.default_rng(0)
    lstm = LSTM(3, 4, rng=rng)
    x, h0, c0, dout, dh_T, dc_T = _inputs(rng, 2, 5, 3, 4)
    mask = np.ones((2, 5))
    _, _, cache = lstm.forward(x, h0, c0, mask)
    _, _, dc0 = lstm.backward(dout, cache, dh_T, dc_T)
    original = lstm_cell.step_backward

    def broken(dh, dc_next, cache):
        dx, dh_prev, dc_prev, g = original(dh, dc_next, cache)
        return dx, dh_prev, 0 * dc_prev, g

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lstm_cell, "step_backward", broken)
        _, _, (_, _, ref_dc0), _ = reference_lstm(lstm.params, x, h0, c0, mask, dout, dh_T, dc_T)
    assert np.abs(ref_dc0 - dc0).max() > 1e-3
