"""The fast path's kernels (``lstm_np.sequence.fused``) against the reference's equations."""

import warnings

import numpy as np
import pytest

from lstm_np.sequence.fused import activation_scales, gate_partials, gates_forward, sigmoid_into


def test_sigmoid_out_argument_writes_in_place():
    z = np.array([0.0, 2.0])
    expected = 1.0 / (1.0 + np.exp(-z))
    r = sigmoid_into(z, out=z)
    assert r is z
    np.testing.assert_allclose(z, expected, atol=1e-16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gates_forward_applies_sigmoid_to_i_f_o_and_tanh_to_g(dtype):
    """One tanh over the fused array, a * tanh(a z) + 1 - a, is 1 / (1 + exp(-z))
    for i, f, o and tanh(z) for g, including huge pre-activations (no warning)."""
    B, H = 3, 4
    z = np.random.default_rng(0).standard_normal((B, 4 * H)).astype(dtype) * 5
    z[0, :] = 1000.0
    z[1, :] = -1000.0
    c_prev = np.ones((B, H), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        act, c, tanh_c, h = gates_forward(z, c_prev)
    with np.errstate(over="ignore"):  # exp(1000) = inf in the textbook form; 1 / inf = 0 is right
        textbook = 1.0 / (1.0 + np.exp(-z[:, : 3 * H].astype(np.float64)))
    np.testing.assert_allclose(act[:, : 3 * H], textbook, rtol=0, atol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(act[:, 3 * H :], np.tanh(z[:, 3 * H :]))
    assert act.dtype == dtype


def test_activation_scales_are_one_half_for_the_sigmoid_gates():
    B, H = 2, 3
    a, one_minus_a = activation_scales(B, H, np.float32)
    expected = np.repeat([[0.5, 0.5, 0.5, 1.0]], H, axis=1).repeat(B, axis=0)  # blocks i, f, o, g
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_array_equal(one_minus_a, 1.0 - expected)
    assert a.dtype == one_minus_a.dtype == np.float32 and a.shape == (B, 4 * H)


def test_gate_partials_work_on_many_steps_at_once(rng):
    """(K, B, .) in one call equals K calls on (B, .): the layer relies on it."""
    K, B, H = 4, 3, 5
    act = rng.random((K, B, 4 * H))
    c_prev, tanh_c = rng.standard_normal((K, B, H)), np.tanh(rng.standard_normal((K, B, H)))
    p, dh_dc = gate_partials(act, c_prev, tanh_c)
    for k in range(K):
        pk, dk = gate_partials(act[k], c_prev[k], tanh_c[k])
        np.testing.assert_array_equal(p[k], pk)
        np.testing.assert_array_equal(dh_dc[k], dk)
    i, f, o, g = np.split(act[0], 4, axis=1)
    np.testing.assert_allclose(p[0], np.hstack([g * i * (1 - i), c_prev[0] * f * (1 - f),
                                                tanh_c[0] * o * (1 - o), i * (1 - g**2)]), rtol=1e-15)
    np.testing.assert_allclose(dh_dc[0], o * (1 - tanh_c[0] ** 2), rtol=1e-15)
