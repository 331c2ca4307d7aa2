"""The article's cell (``lstm_np.cells.article``): values by hand, numerical gradients, the unused gate."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_np.cells import article
from lstm_np.cells import lstm as lstm_cell
from lstm_np.gradcheck import CASES, TOLERANCE, check_gradients


def _params(rng, B, D, H, scale=0.5):
    x, h_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    Wx, Wh, b = (scale * rng.standard_normal(s) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    return x, h_prev, Wx, Wh, b


def _check(x, h_prev, Wx, Wh, b, R, step_backward=article.step_backward):
    def loss():
        return np.sum(article.step_forward(x, h_prev, Wx, Wh, b)[0] * R)

    _, cache = article.step_forward(x, h_prev, Wx, Wh, b)
    dx, dh_prev, grads = step_backward(R, cache)
    return check_gradients(
        loss, {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "b": b}, {"x": dx, "h_prev": dh_prev, **grads}
    )


def test_step_matches_values_computed_by_hand():
    # B = D = H = 1; columns of Wx, Wh, b: i, f, o, g
    x, h_prev = np.array([[2.0]]), np.array([[0.5]])
    Wx = np.array([[0.1, 0.2, 0.3, 0.4]])
    Wh = np.array([[-0.2, 0.4, 0.6, -0.8]])
    b = np.array([0.0, 1.0, -0.5, 0.25])
    # z = 2 Wx + 0.5 Wh + b = [0.1, 1.6, 0.4, 0.65]
    s = lambda v: 1.0 / (1.0 + np.exp(-v))
    i, f, g = s(0.1), s(1.6), np.tanh(0.65)
    h = f * 0.5 + i * g

    h_out, _ = article.step_forward(x, h_prev, Wx, Wh, b)

    assert abs(h_out[0, 0] - h) < 1e-12
    assert round(h, 6) == round(0.83201838 * 0.5 + 0.52497919 * 0.57166997, 6)


def test_state_is_the_lstm_cell_state_when_c_prev_is_h_prev(rng):
    """h = f h_prev + i g is the LSTM's c = f c_prev + i g with the memory and the output merged."""
    x, h_prev, Wx, Wh, b = _params(rng, 3, 4, 5)
    h, _ = article.step_forward(x, h_prev, Wx, Wh, b)
    _, c, _ = lstm_cell.step_forward(x, h_prev, h_prev, Wx, Wh, b)
    np.testing.assert_allclose(h, c, rtol=0, atol=1e-15)


def test_output_gate_changes_nothing_and_gets_no_gradient(rng):
    B, D, H = 3, 4, 5
    x, h_prev, Wx, Wh, b = _params(rng, B, D, H)
    o_cols = slice(2 * H, 3 * H)
    h, cache = article.step_forward(x, h_prev, Wx, Wh, b)
    Wx2, Wh2, b2 = Wx.copy(), Wh.copy(), b.copy()
    Wx2[:, o_cols] += 3.0
    Wh2[:, o_cols] -= 2.0
    b2[o_cols] = 10.0
    h2, _ = article.step_forward(x, h_prev, Wx2, Wh2, b2)
    np.testing.assert_array_equal(h, h2)

    _, _, grads = article.step_backward(rng.standard_normal((B, H)), cache)
    for name in ("Wx", "Wh"):
        assert np.all(grads[name][:, o_cols] == 0.0)
        assert np.any(grads[name][:, :2 * H] != 0.0)
    assert np.all(grads["b"][o_cols] == 0.0)


def test_step_backward_matches_hand_derivation():
    x, h_prev = np.array([[2.0]]), np.array([[0.5]])
    Wx = np.array([[0.1, 0.2, 0.3, 0.4]])
    Wh = np.array([[-0.2, 0.4, 0.6, -0.8]])
    b = np.array([0.0, 1.0, -0.5, 0.25])
    s = lambda v: 1.0 / (1.0 + np.exp(-v))
    i, f, g = s(0.1), s(1.6), np.tanh(0.65)
    dh = 0.7
    dz = np.array([dh * g * i * (1 - i), dh * 0.5 * f * (1 - f), 0.0, dh * i * (1 - g**2)])

    _, cache = article.step_forward(x, h_prev, Wx, Wh, b)
    dx, dh_prev, grads = article.step_backward(np.array([[dh]]), cache)

    np.testing.assert_allclose(grads["b"], dz, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["Wx"][0], 2.0 * dz, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["Wh"][0], 0.5 * dz, rtol=0, atol=1e-12)
    assert abs(dx[0, 0] - dz @ Wx[0]) < 1e-12
    assert abs(dh_prev[0, 0] - (dh * f + dz @ Wh[0])) < 1e-12


def test_step_gradients_match_numerical(rng):
    x, h_prev, Wx, Wh, b = _params(rng, 4, 3, 5, scale=1.0)
    errors = _check(x, h_prev, Wx, Wh, b, rng.standard_normal((4, 5)))
    assert max(errors.values()) <= TOLERANCE, errors


@settings(max_examples=15, deadline=None)
@given(B=st.integers(1, 4), D=st.integers(1, 4), H=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_step_gradients_match_numerical_for_any_shape(B, D, H, seed):
    r = np.random.default_rng(seed)
    x, h_prev, Wx, Wh, b = _params(r, B, D, H)
    errors = _check(x, h_prev, Wx, Wh, b, r.standard_normal((B, H)))
    assert max(errors.values()) <= TOLERANCE, errors


def test_check_catches_a_dropped_direct_path(rng):
    """Control: forget the direct path dh * f into dh_prev (keep only dz Wh^T); the check must fail."""

    def broken(dh, cache):
        dx, dh_prev, grads = article.step_backward(dh, cache)
        f = cache[5]
        return dx, dh_prev - dh * f, grads

    x, h_prev, Wx, Wh, b = _params(rng, 3, 4, 5)
    errors = _check(x, h_prev, Wx, Wh, b, rng.standard_normal((3, 5)), step_backward=broken)
    assert errors["h_prev"] > 1e-2
    assert max(errors[k] for k in ("x", "Wx", "Wh", "b")) <= TOLERANCE


def test_gradcheck_case_passes():
    loss_fn, arrays, analytic = CASES["article_cell"](np.random.default_rng(0))
    assert set(arrays) == {"x", "h_prev", "Wx", "Wh", "b"}
    errors = check_gradients(loss_fn, arrays, analytic)
    assert max(errors.values()) <= TOLERANCE, errors


@pytest.mark.parametrize("name", ["i", "f", "o", "g"])
def test_gate_order_matches_the_lstm(name):
    assert article.GATES.index(name) == lstm_cell.GATES.index(name)
