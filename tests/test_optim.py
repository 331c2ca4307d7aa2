import numpy as np
import pytest

from lstm_np.optim import SGD, Adam, clip_grad_norm, global_norm


def test_sgd_with_momentum_follows_its_formula():
    p = {"w": np.array([1.0, -2.0])}
    opt = SGD(p, lr=0.1, momentum=0.9)
    g1, g2 = np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    opt.step({"w": g1})
    np.testing.assert_allclose(p["w"], [1.0 - 0.1 * 1.0, -2.0 - 0.1 * 2.0])
    opt.step({"w": g2})
    v2 = 0.9 * g1 + g2
    np.testing.assert_allclose(p["w"], np.array([0.9, -2.2]) - 0.1 * v2, rtol=1e-15)


def test_adam_first_steps_follow_its_formula():
    p = {"w": np.array([0.5, -1.0, 2.0])}
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam(p, lr=lr, beta1=b1, beta2=b2, eps=eps)
    g1 = np.array([0.1, -3.0, 0.0])
    opt.step({"w": g1})
    # step 1: m_hat = g, v_hat = g^2, so each entry moves by lr * sign(g) (0 stays put)
    np.testing.assert_allclose(p["w"], [0.5 - lr * 0.1 / (0.1 + eps), -1.0 + lr * 3.0 / (3.0 + eps), 2.0], rtol=1e-14)
    w1 = p["w"].copy()
    g2 = np.array([0.3, 1.0, -2.0])
    opt.step({"w": g2})
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    np.testing.assert_allclose(p["w"], w1 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-14)
    assert opt.t == 2


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.05), lambda p: Adam(p, lr=0.05)])
def test_state_save_and_restore_continues_identically(make, rng):
    p1 = {"a": rng.standard_normal(3), "b": rng.standard_normal((2, 2))}
    p2 = {k: v.copy() for k, v in p1.items()}
    grads = [{k: rng.standard_normal(v.shape) for k, v in p1.items()} for _ in range(4)]
    opt1 = make(p1)
    for g in grads[:2]:
        opt1.step(g)
    state = opt1.state_dict()
    for g in grads[2:]:
        opt1.step(g)

    opt2 = make(p2)
    for g in grads[:2]:  # bring p2 to the same point, then restore a fresh copy of the state
        opt2.step(g)
    opt3 = make(p2)
    opt3.load_state_dict(state)
    for g in grads[2:]:
        opt3.step(g)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_optimizer_rejects_mismatched_or_nonfinite_grads():
    p = {"w": np.zeros(3)}
    opt = Adam(p)
    with pytest.raises(ValueError, match=r"missing \['w'\], unexpected \['v'\]"):
        opt.step({"v": np.zeros(3)})
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(2,\); expected \(3,\)"):
        opt.step({"w": np.zeros(2)})
    with pytest.raises(FloatingPointError, match=r"grads\['w'\] contains NaN or inf \(step 1\)"):
        opt.step({"w": np.array([0.0, np.nan, 0.0])})
    np.testing.assert_array_equal(p["w"], 0.0)
    assert opt.t == 0


def test_load_state_with_wrong_shapes_changes_nothing():
    opt = SGD({"w": np.zeros(3)})
    opt.step({"w": np.ones(3)})
    before = opt.state_dict()
    bad = SGD({"w": np.zeros(4)}).state_dict()
    with pytest.raises(ValueError, match=r"has shape \(4,\); expected \(3,\)"):
        opt.load_state_dict(bad)
    np.testing.assert_array_equal(opt.v["w"], before["buffers"]["v"]["w"])
    assert opt.t == 1


def test_clipping_caps_the_norm_and_keeps_the_direction():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}  # global norm 5
    before = {k: v.copy() for k, v in grads.items()}
    norm = clip_grad_norm(grads, max_norm=1.0)
    assert norm == 5.0
    assert global_norm(grads) == pytest.approx(1.0, abs=1e-15)
    for k in grads:
        np.testing.assert_allclose(grads[k], before[k] / 5.0, rtol=1e-15)


def test_clipping_leaves_small_gradients_alone():
    grads = {"a": np.array([0.3, 0.4])}
    assert clip_grad_norm(grads, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(grads["a"], [0.3, 0.4])
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        clip_grad_norm(grads, 0.0)


def test_float32_parameters_stay_float32():
    p = {"w": np.ones(3, np.float32)}
    for opt in (SGD(p, lr=0.1), Adam(p, lr=0.1)):
        opt.step({"w": np.ones(3, np.float32)})
    assert p["w"].dtype == np.float32
