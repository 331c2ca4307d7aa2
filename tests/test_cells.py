"""The reference steps of ``lstm_np.cells``: values by hand, numerical gradients."""

import warnings

import numpy as np
import pytest

from lstm_np.cells.lstm import GATES, sigmoid, step_backward, step_forward
from lstm_np.gradcheck import TOLERANCE, check_gradients


def test_gate_order_is_documented_order():
    assert GATES == ("i", "f", "o", "g")


def test_step_matches_values_computed_by_hand():
    # B = 1, D = 1, H = 1: every gate is one number, computed here by hand.
    x, h_prev, c_prev = np.array([[2.0]]), np.array([[0.5]]), np.array([[-1.0]])
    # columns: i, f, o, g
    Wx = np.array([[0.1, 0.2, 0.3, 0.4]])
    Wh = np.array([[-0.2, 0.4, 0.6, -0.8]])
    b = np.array([0.0, 1.0, -0.5, 0.25])
    z = 2.0 * Wx[0] + 0.5 * Wh[0] + b          # [0.1, 1.6, 0.4, 0.65]
    np.testing.assert_allclose(z, [0.1, 1.6, 0.4, 0.65], rtol=0, atol=1e-15)
    s = lambda v: 1.0 / (1.0 + np.exp(-v))
    i, f, o, g = s(0.1), s(1.6), s(0.4), np.tanh(0.65)
    c = f * (-1.0) + i * g
    h = o * np.tanh(c)

    h_out, c_out, _ = step_forward(x, h_prev, c_prev, Wx, Wh, b)

    assert abs(c_out[0, 0] - c) < 1e-12
    assert abs(h_out[0, 0] - h) < 1e-12
    # the same numbers, spelled out to a few digits for a reader checking by hand
    assert round(c, 6) == round(-0.83201838 + 0.52497919 * 0.57166997, 6)


def test_step_backward_matches_hand_derivation():
    x, h_prev, c_prev = np.array([[2.0]]), np.array([[0.5]]), np.array([[-1.0]])
    Wx = np.array([[0.1, 0.2, 0.3, 0.4]])
    Wh = np.array([[-0.2, 0.4, 0.6, -0.8]])
    b = np.array([0.0, 1.0, -0.5, 0.25])
    s = lambda v: 1.0 / (1.0 + np.exp(-v))
    i, f, o, g = s(0.1), s(1.6), s(0.4), np.tanh(0.65)
    c = f * -1.0 + i * g
    dh, dc_next = 0.7, -0.3
    dc = dc_next + dh * o * (1 - np.tanh(c) ** 2)
    dz = np.array([dc * g * i * (1 - i), dc * -1.0 * f * (1 - f), dh * np.tanh(c) * o * (1 - o), dc * i * (1 - g**2)])

    _, _, cache = step_forward(x, h_prev, c_prev, Wx, Wh, b)
    dx, dh_prev, dc_prev, grads = step_backward(np.array([[dh]]), np.array([[dc_next]]), cache)

    np.testing.assert_allclose(grads["b"], dz, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["Wx"][0], 2.0 * dz, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["Wh"][0], 0.5 * dz, rtol=0, atol=1e-12)
    assert abs(dx[0, 0] - dz @ Wx[0]) < 1e-12
    assert abs(dh_prev[0, 0] - dz @ Wh[0]) < 1e-12
    assert abs(dc_prev[0, 0] - dc * f) < 1e-12


def test_step_gradients_match_numerical(rng):
    B, D, H = 4, 3, 5
    x, h_prev, c_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    Wx, Wh, b = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)
    Rh, Rc = rng.standard_normal((B, H)), rng.standard_normal((B, H))

    def loss():
        h, c, _ = step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return np.sum(h * Rh) + np.sum(c * Rc)

    _, _, cache = step_forward(x, h_prev, c_prev, Wx, Wh, b)
    dx, dh_prev, dc_prev, grads = step_backward(Rh, Rc, cache)
    errors = check_gradients(
        loss,
        {"x": x, "h_prev": h_prev, "c_prev": c_prev, "Wx": Wx, "Wh": Wh, "b": b},
        {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, **grads},
    )
    assert max(errors.values()) <= TOLERANCE, errors


def test_step_backward_does_not_modify_upstream_gradients(rng):
    B, D, H = 2, 3, 4
    args = (rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
            rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H))
    _, _, cache = step_forward(*args)
    dh, dc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    dh0, dc0 = dh.copy(), dc.copy()
    step_backward(dh, dc, cache)
    np.testing.assert_array_equal(dh, dh0)
    np.testing.assert_array_equal(dc, dc0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_huge_inputs(dtype):
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(z)
    assert s.dtype == dtype
    np.testing.assert_allclose(s, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-20 if dtype == np.float64 else 1e-7)


def test_sigmoid_matches_definition():
    z = np.linspace(-20, 20, 401)
    np.testing.assert_allclose(sigmoid(z), 1.0 / (1.0 + np.exp(-z)), rtol=0, atol=5e-16)


def test_reference_lstm_step_reads_as_the_equations():
    """Every line of the README's forward table is one line of the step's code."""
    import inspect

    src = inspect.getsource(step_forward)
    for line in ("i = sigmoid(z[:, 0 * H : 1 * H])", "f = sigmoid(z[:, 1 * H : 2 * H])",
                 "o = sigmoid(z[:, 2 * H : 3 * H])", "g = np.tanh(z[:, 3 * H : 4 * H])",
                 "c = f * c_prev + i * g", "h = o * np.tanh(c)"):
        assert line in src, line
    back = inspect.getsource(step_backward)
    for line in ("do = dh * tanh_c", "dc = dc_next + dh * o * (1 - tanh_c**2)", "di = dc * g", "df = dc * c_prev",
                 "dg = dc * i", "dc_prev = dc * f", "dz_i = di * i * (1 - i)", "dz_f = df * f * (1 - f)",
                 "dz_o = do * o * (1 - o)", "dz_g = dg * (1 - g**2)", "dx = dz @ Wx.T", "dh_prev = dz @ Wh.T"):
        assert line in back, line
