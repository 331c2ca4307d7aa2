import numpy as np
import pytest

from lstm_np.gradcheck import TOLERANCE, check_gradients
from lstm_np.feedforward import Dense, Embedding
from lstm_np.losses import masked_mse


def test_embedding_is_one_hot_times_matrix(rng):
    emb = Embedding(6, 3, rng=rng)
    ids = np.array([[1, 4, 1], [0, 5, 5]])
    out, _ = emb.forward(ids)
    one_hot = np.eye(6)[ids]
    np.testing.assert_array_equal(out, one_hot @ emb.params["W"])


def test_embedding_backward_scatter_adds_repeated_ids(rng):
    emb = Embedding(5, 2, rng=rng)
    ids = np.array([[1, 3, 1], [1, 0, 3]])  # id 1 three times, id 3 twice, 2 and 4 never
    dout = np.arange(12, dtype=float).reshape(2, 3, 2)
    _, cache = emb.forward(ids)
    assert emb.backward(dout, cache) is None
    expected = np.zeros((5, 2))
    expected[1] = dout[0, 0] + dout[0, 2] + dout[1, 0]
    expected[3] = dout[0, 1] + dout[1, 2]
    expected[0] = dout[1, 1]
    np.testing.assert_array_equal(emb.grads["W"], expected)
    # and equals the one-hot formula: onehot^T @ dout
    one_hot = np.eye(5)[ids.reshape(-1)]
    np.testing.assert_array_equal(emb.grads["W"], one_hot.T @ dout.reshape(-1, 2))


def test_embedding_gradient_matches_numerical(rng):
    emb = Embedding(6, 3, rng=rng)
    ids = np.array([[1, 4, 1, 1], [0, 1, 5, 4]])
    R = rng.standard_normal((2, 4, 3))
    _, cache = emb.forward(ids)
    emb.backward(R, cache)
    errors = check_gradients(lambda: np.sum(emb.forward(ids)[0] * R), emb.params, emb.grads)
    assert errors["W"] <= TOLERANCE


def test_embedding_rejects_bad_ids(rng):
    emb = Embedding(4, 2, rng=rng)
    with pytest.raises(ValueError, match=r"ids contains id 4; expected ids in \[0, 4\)"):
        emb.forward(np.array([0, 4]))
    with pytest.raises(ValueError, match=r"ids contains id -1"):
        emb.forward(np.array([-1, 2]))
    with pytest.raises(TypeError, match="ids has dtype float64; expected integer ids"):
        emb.forward(np.array([0.0, 1.0]))


def test_dense_values_and_gradients(rng):
    head = Dense(4, 2, rng=rng, bias=3.5)
    np.testing.assert_array_equal(head.params["b"], [3.5, 3.5])
    h = rng.standard_normal((3, 5, 4))
    y, cache = head.forward(h)
    np.testing.assert_allclose(y, np.einsum("btk,kj->btj", h, head.params["W"]) + 3.5, rtol=1e-14)
    R = rng.standard_normal((3, 5, 2))
    dh = head.backward(R, cache)
    errors = check_gradients(lambda: np.sum(head.forward(h)[0] * R), {"h": h, **head.params}, {"h": dh, **head.grads})
    assert max(errors.values()) <= TOLERANCE, errors


def test_dense_bad_shapes(rng):
    head = Dense(4, 1, rng=rng)
    with pytest.raises(ValueError, match=r"h has shape \(2, 3\); expected \(\.\.\., in_features\) = \(\.\.\., 4\)"):
        head.forward(np.zeros((2, 3)))
    _, cache = head.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"dy has shape \(2, 2\)"):
        head.backward(np.zeros((2, 2)), cache)


def test_masked_mse_value_by_hand():
    pred = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
    target = np.array([[2.0, 2.0, 1.0], [4.0, 3.0, 9.0]])
    mask = np.array([[1, 1, 1], [1, 1, 0]])  # the 0 - 9 error is padding
    loss, dpred = masked_mse(pred, target, mask)
    assert loss == pytest.approx((1 + 0 + 4 + 0 + 4) / 5, abs=1e-15)
    np.testing.assert_allclose(dpred, [[-2 / 5, 0, 4 / 5], [0, 4 / 5, 0]], atol=1e-15)


def test_masked_mse_gradient_matches_numerical(rng):
    pred, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    mask = np.array([[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 1, 1]])
    _, dpred = masked_mse(pred, target, mask)
    errors = check_gradients(lambda: masked_mse(pred, target, mask)[0], {"pred": pred}, {"pred": dpred})
    assert errors["pred"] <= TOLERANCE


def test_masked_mse_float32_and_errors():
    pred = np.ones((2, 2), np.float32)
    loss, dpred = masked_mse(pred, np.zeros((2, 2), np.float32))
    assert loss == 1.0 and dpred.dtype == np.float32
    with pytest.raises(ValueError, match="mask selects no entries"):
        masked_mse(pred, pred, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"target has shape \(2, 3\)"):
        masked_mse(pred, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="pred contains NaN"):
        masked_mse(np.full((2, 2), np.nan), np.zeros((2, 2)))
