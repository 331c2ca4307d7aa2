"""The baselines (global mean, bias model) and the model files' low-level io.

The sequence model, matrix factorisation and the protocol are tested in
``test_protocol.py``; the laboratory's use of the recommender in
``test_variants.py``.
"""

import numpy as np
import pytest

from lstm_np import io
from lstm_np.data import make_synthetic, temporal_split
from lstm_np.recommender.baselines import BiasModel, fit_bias_model, rmse

# --------------------------------------------------------------------------- baselines


def test_bias_model_closed_form_on_a_tiny_example():
    # two users, two items, three ratings: with reg = 0 the biases can fit them exactly
    user, item, rating = np.array([1, 1, 2]), np.array([10, 20, 10]), np.array([5.0, 3.0, 4.0])
    m = BiasModel(user, item, rating, reg=0.0, iters=200)
    np.testing.assert_allclose(m.predict(user, item), rating, atol=1e-6)  # 3 ratings, enough freedom
    assert m.predict(np.array([7]), np.array([77]))[0] == pytest.approx(4.0)  # unknowns get mu
    shrunk = BiasModel(user, item, rating, reg=1e6)
    np.testing.assert_allclose(shrunk.predict(user, item), 4.0, atol=1e-4)  # all shrunk to mu


def test_bias_regularisation_is_chosen_on_validation():
    r = make_synthetic(seed=3)
    split = temporal_split(r)

    def part(rows):
        return r.user[rows], r.item[rows], r.rating[rows]

    model, scores = fit_bias_model(part(split.train), part(split.val))
    assert scores[model.reg] == min(scores.values())
    u, i, y = part(split.val)
    assert rmse(model.predict(u, i), y) == pytest.approx(scores[model.reg])


# --------------------------------------------------------------------------- saving and loading


def test_io_keeps_dots_in_names_and_the_usual_file_mode(tmp_path):
    io.save(tmp_path / "ckpt.epoch5", {"a": np.zeros(2)}, {"e": 5})
    io.save(tmp_path / "ckpt.epoch6", {"a": np.ones(2)}, {"e": 6})
    assert io.load(tmp_path / "ckpt.epoch5")[1] == {"e": 5}
    assert io.load(tmp_path / "ckpt.epoch6.npz")[1] == {"e": 6}
    import os

    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "ckpt.epoch5.npz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_io_says_when_a_file_is_not_a_model(tmp_path):
    (tmp_path / "metrics.json").write_text('{"lstm": {}}')
    with pytest.raises(io.ModelFileError, match="not an lstm_np model file"):
        io.load(tmp_path / "metrics.json")


def test_io_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="numeric ndarray"):
        io.save(tmp_path / "x", {"a": np.array([{}], dtype=object)}, {})
