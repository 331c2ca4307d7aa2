"""The comparison study (lstm_np.studies.comparison): the adding-problem data, a quick run, and learning."""

import json
import math

import numpy as np
import pytest

from lstm_np.studies import (
    CELLS,
    FULL,
    QUICK,
    AddingModel,
    Settings,
    adding_problem,
    format_results,
    get_settings,
    gradient_flow,
    load_results,
    run,
    train_adding,
)
from lstm_np.gradcheck import TOLERANCE, check_gradients


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments")
    return out, run(out, quick=True, verbose=False)


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("T", [2, 3, 10, 101])
def test_adding_problem_has_two_markers_and_target_is_their_sum(T, rng):
    x, y = adding_problem(500, T, rng)
    assert x.shape == (500, T, 2) and y.shape == (500,)
    values, markers = x[..., 0], x[..., 1]
    assert set(np.unique(markers)) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(axis=1), 2.0)
    np.testing.assert_array_equal(markers[:, : T // 2].sum(axis=1), 1.0)  # one in each half
    np.testing.assert_allclose(y, (values * markers).sum(axis=1), rtol=0, atol=1e-15)
    assert values.min() >= 0.0 and values.max() <= 1.0


def test_adding_problem_rejects_too_short_sequences(rng):
    with pytest.raises(ValueError, match="T must be at least 2"):
        adding_problem(4, 1, rng)


def test_baseline_mse_is_one_sixth(rng):
    """Predicting the mean 1.0: MSE = Var(U1 + U2) = 2 / 12."""
    _, y = adding_problem(200_000, 20, rng)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=3e-3)
    assert np.mean(y) == pytest.approx(1.0, abs=5e-3)


def test_settings_from_argument_and_environment(monkeypatch):
    monkeypatch.delenv("LSTM_NP_QUICK", raising=False)
    assert get_settings() is FULL and get_settings(True) is QUICK
    monkeypatch.setenv("LSTM_NP_QUICK", "1")
    assert get_settings() is QUICK and get_settings(False) is FULL
    monkeypatch.setenv("LSTM_NP_QUICK", "0")
    assert get_settings() is FULL
    with pytest.raises(ValueError, match="flow_length"):
        Settings(lengths=(10, 20), flow_length=30)


# --------------------------------------------------------------------------- the model


@pytest.mark.parametrize("cell", list(CELLS))
def test_adding_model_gradients_match_numerical(cell, rng):
    model = AddingModel(cell, 3, rng)
    x, y = adding_problem(4, 5, rng)
    model.loss_and_grads(x, y)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    errors = check_gradients(lambda: float(np.mean((model.predict(x) - y) ** 2)), model.params, analytic)
    assert set(errors) == set(model.params)
    assert max(errors.values()) <= TOLERANCE, errors


@pytest.mark.parametrize("cell", list(CELLS))
def test_gradient_flow_ends_match_one_backward_pass(cell, rng):
    """Chunked back-propagation: the last norm is ||dL/dh_T||, the first ||dL/dh_0||."""
    model = AddingModel(cell, 4, rng)
    x, y = adding_problem(3, 6, rng)
    norms = gradient_flow(model, x, y)
    assert norms.shape == (7,) and np.all(norms > 0)
    # ||dL/dh_0|| from the whole-sequence backward, with dL/dh_T from the head
    from lstm_np.studies.adding import _cell_backward, _cell_forward
    from lstm_np.losses import masked_mse

    out, state, cache = _cell_forward(model.cell, x)
    pred, hc = model.head.forward(state[0])
    dh_T = model.head.backward(masked_mse(pred[:, 0], y)[1][:, None], hc)
    _, dstate0 = _cell_backward(model.cell, np.zeros_like(out), cache, (dh_T,) + tuple(np.zeros_like(s) for s in state[1:]))
    assert norms[0] == pytest.approx(np.linalg.norm(dh_T), rel=1e-12)
    assert norms[-1] == pytest.approx(np.linalg.norm(dstate0[0]), rel=1e-10)


# --------------------------------------------------------------------------- runs


def test_quick_run_writes_a_table_with_all_cells_and_finite_numbers(quick_run):
    out, results = quick_run
    table = (out / "results.md").read_text()
    for c in CELLS:
        assert f"| {c} |" in table
        for T in QUICK.lengths:
            mses = results["adding"][c][T]
            assert len(mses) == len(QUICK.seeds) and all(math.isfinite(v) and v >= 0 for v in mses)
        assert np.all(np.isfinite(results["gradient_flow"][c]["init"]))
        assert len(results["gradient_flow"][c]["trained"]) == QUICK.flow_length + 1
        assert results["cost"][c]["seconds"] > 0
    assert "| RNN | GRU | LSTM |" in table
    for T in QUICK.lengths:
        assert f"| {T} | {results['baseline'][T]:.3f} |" in table
    assert (out / "adding.png").stat().st_size > 10_000
    assert (out / "gradient_flow.png").stat().st_size > 10_000
    saved = json.loads((out / "results.json").read_text())
    assert saved["adding"]["LSTM"][str(QUICK.lengths[0])] == results["adding"]["LSTM"][QUICK.lengths[0]]
    loaded = load_results(out)
    assert format_results(loaded) == table  # the JSON holds everything the tables need
    np.testing.assert_array_equal(loaded["gradient_flow"]["GRU"]["trained"], results["gradient_flow"]["GRU"]["trained"])
    # parameter counts: 1, 3, 4 blocks of (D + H + 1) H, D = 2, plus the GRU's second bias
    H = QUICK.hidden_size
    assert [results["cost"][c]["params"] for c in CELLS] == [(3 + H) * H, 3 * (4 + H) * H, 4 * (3 + H) * H]


def test_quick_run_lstm_beats_baseline_on_short_sequences(quick_run):
    _, results = quick_run
    baseline = results["baseline"][10]
    assert baseline == pytest.approx(1 / 6, abs=0.03)
    assert max(results["adding"]["LSTM"][10]) < 0.1 * baseline


def test_training_is_reproducible_and_learns(rng):
    s = Settings(hidden_size=8, lengths=(10,), seeds=(0,), steps=60, batch_size=16, lr=1e-2, n_test=200, flow_length=10)
    _, losses1, mse1 = train_adding("LSTM", 10, 3, s)
    _, losses2, mse2 = train_adding("LSTM", 10, 3, s)
    np.testing.assert_array_equal(losses1, losses2)
    assert mse1 == mse2
    assert losses1[-20:].mean() < losses1[:5].mean()


def test_worker_processes_give_the_same_results(tmp_path):
    tiny = Settings(hidden_size=4, lengths=(4, 6), seeds=(0, 1), steps=10, batch_size=8, n_test=50,
                    flow_length=6, timing_repeats=1)
    here = run(tmp_path / "one", verbose=False, workers=1, settings=tiny)
    there = run(tmp_path / "two", verbose=False, workers=2, settings=tiny)
    for c in CELLS:
        for T in tiny.lengths:
            np.testing.assert_allclose(there["adding"][c][T], here["adding"][c][T], rtol=1e-9)
        np.testing.assert_allclose(there["curves"][c], here["curves"][c], rtol=1e-9)
        np.testing.assert_allclose(there["gradient_flow"][c]["trained"], here["gradient_flow"][c]["trained"], rtol=1e-9)
    lines = (tmp_path / "two" / "results.md").read_text().splitlines()
    assert sum(line.startswith("| LSTM |") for line in lines) == 2  # gradient flow and cost rows
