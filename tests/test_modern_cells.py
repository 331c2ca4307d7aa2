"""The 2024 cells: sLSTM (xLSTM), minLSTM and minGRU.

Reference steps (values by hand, the stabiliser's invariance), the layers
against the reference steps run by hand over masked sequences (1e-12 in
float64), the log-space scan against the loop, bad input, and the study's
quick setting. The gradient checks are cases of ``lstm_np.gradcheck``
(``tests/test_gradcheck.py`` runs them all).
"""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_np.cells import minrnn as min_cell
from lstm_np.cells import slstm as slstm_cell
from lstm_np.gradcheck import CASES, TOLERANCE, check_gradients
from lstm_np.sequence import SLSTM, MinGRU, MinLSTM, Stack
from lstm_np.sequence.minrnn import linear_loop, linear_scan
from lstm_np.sequence.slstm import SLSTMState
from lstm_np.studies import modern_cells

TOL = dict(rtol=1e-12, atol=1e-12)
s = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731  the logistic function, written out for the hand computations


# --------------------------------------------------------------------------- reference steps by hand


def test_slstm_step_matches_values_computed_by_hand():
    # B = D = H = 1; columns i, f, z, o
    x, h_prev, c_prev, n_prev, m_prev = (np.array([[v]]) for v in (2.0, 0.5, -1.0, 2.0, 0.3))
    Wx = np.array([[0.1, 0.2, 0.3, 0.4]])
    Wh = np.array([[-0.2, 0.4, 0.6, -0.8]])
    b = np.array([0.0, 1.0, -0.5, 0.25])
    z_i, z_f, z_z, z_o = 2.0 * Wx[0] + 0.5 * Wh[0] + b        # 0.1, 1.6, 0.4, 0.65
    m = max(np.log(s(z_f)) + 0.3, z_i)                          # log sigma(1.6) + 0.3 = 0.1161... > 0.1
    i, f = np.exp(z_i - m), np.exp(np.log(s(z_f)) + 0.3 - m)     # f = 1: the forget side won the max
    c = f * -1.0 + i * np.tanh(z_z)
    n = f * 2.0 + i
    h = s(z_o) * c / n

    h_out, c_out, n_out, m_out, _ = slstm_cell.step_forward(x, h_prev, c_prev, n_prev, m_prev, Wx, Wh, b)

    assert f == 1.0 and abs(m - 0.11610) < 1e-5
    for ours, ref in ((h_out, h), (c_out, c), (n_out, n), (m_out, m)):
        assert abs(ours[0, 0] - ref) < 1e-14


def test_min_steps_match_values_computed_by_hand():
    x, h_prev = np.array([[2.0]]), np.array([[0.5]])
    Wx, b = np.array([[0.1, -0.3, 0.7]]), np.array([0.2, 0.1, -0.4])    # minLSTM: f, i, h
    f, i, h_tilde = s(0.4), s(-0.5), 1.0
    h, _ = min_cell.minlstm_step_forward(x, h_prev, Wx, b)
    assert abs(h[0, 0] - (f / (f + i) * 0.5 + i / (f + i) * h_tilde)) < 1e-15

    Wx, b = np.array([[0.1, 0.7]]), np.array([0.2, -0.4])                # minGRU: z, h
    z = s(0.4)
    h, _ = min_cell.mingru_step_forward(x, h_prev, Wx, b)
    assert abs(h[0, 0] - ((1 - z) * 0.5 + z * 1.0)) < 1e-15


def _slstm_args(rng, B=3, D=4, H=5, scale=0.5):
    return (rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
            rng.uniform(0.5, 2.0, (B, H)), rng.standard_normal((B, H)),
            scale * rng.standard_normal((D, 4 * H)), scale * rng.standard_normal((H, 4 * H)),
            scale * rng.standard_normal(4 * H))


def test_the_stabiliser_changes_no_output(rng):
    """The state (c, n, m) and (c e^-d, n e^-d, m + d) are the same unnormalised memory: same h, same next state."""
    x, h_prev, c_prev, n_prev, m_prev, Wx, Wh, b = _slstm_args(rng)
    d = 3.7
    h1, c1, n1, m1, _ = slstm_cell.step_forward(x, h_prev, c_prev, n_prev, m_prev, Wx, Wh, b)
    h2, c2, n2, m2, _ = slstm_cell.step_forward(x, h_prev, c_prev * np.exp(-d), n_prev * np.exp(-d), m_prev + d,
                                                Wx, Wh, b)
    np.testing.assert_allclose(h2, h1, **TOL)
    np.testing.assert_allclose(c2 * np.exp(m2), c1 * np.exp(m1), **TOL)  # C = c e^m, the same memory
    np.testing.assert_allclose(n2 * np.exp(m2), n1 * np.exp(m1), **TOL)
    assert not np.allclose(m2, m1)  # a control: the stored numbers did change


def test_the_stabiliser_keeps_huge_input_gates_finite():
    """z_i = 800: exp(800) overflows float64, the stabilised gates do not; h is the plain weighted mean."""
    x, zero = np.ones((1, 1)), np.zeros((1, 1))
    Wx = np.array([[800.0, 5.0, 0.5, 20.0]])  # i, f, z, o
    h, c, n, m, _ = slstm_cell.step_forward(x, zero, zero, zero, zero, Wx, np.zeros((1, 4)), np.zeros(4))
    assert np.isfinite([h, c, n, m]).all() and m[0, 0] == 800.0 and n[0, 0] == 1.0
    assert abs(h[0, 0] - s(20.0) * np.tanh(0.5)) < 1e-15  # from a zero state h = o * g


def test_no_gradient_flows_through_the_max_when_the_loss_reads_only_h(rng):
    """dm = dm_next - dc c - dn n is zero for a loss on h: which side won the max does not matter."""
    _, _, _, _, cache = slstm_cell.step_forward(*_slstm_args(rng))
    dh, zero = rng.standard_normal((3, 5)), np.zeros((3, 5))
    flipped = cache[:11] + (1 - cache[11],) + cache[12:]  # from_f replaced by its opposite
    a = slstm_cell.step_backward(dh, zero, zero, zero, cache)
    b = slstm_cell.step_backward(dh, zero, zero, zero, flipped)
    for ours, ref in zip(a[:5], b[:5]):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)
    # a control: with a loss on m the max does route a gradient
    c = slstm_cell.step_backward(dh, zero, zero, np.ones((3, 5)), cache)
    d = slstm_cell.step_backward(dh, zero, zero, np.ones((3, 5)), flipped)
    assert not np.allclose(c[0], d[0])


@pytest.mark.parametrize("case", ["slstm_cell", "minlstm_cell", "mingru_cell", "slstm_layer",
                                  "minlstm_layer_scan", "mingru_layer_loop"])
def test_gradient_check_cases_pass(case):
    errors = check_gradients(*CASES[case](np.random.default_rng(7)))
    assert max(errors.values()) <= TOLERANCE, errors


def test_backward_steps_do_not_modify_upstream_gradients(rng):
    _, _, _, _, cache = slstm_cell.step_forward(*_slstm_args(rng))
    grads_in = [rng.standard_normal((3, 5)) for _ in range(4)]
    copies = [g.copy() for g in grads_in]
    slstm_cell.step_backward(*grads_in, cache)
    for g, g0 in zip(grads_in, copies):
        np.testing.assert_array_equal(g, g0)


# --------------------------------------------------------------------------- layers = reference steps


def reference_slstm(p, x, s0, mask, dout, ds_T):
    """sLSTM forward and backward with ``cells.slstm`` stepped by hand (a padded step keeps the state)."""
    T = x.shape[1]
    st, outs, caches = list(s0), [], []
    for t in range(T):
        *new, cache = slstm_cell.step_forward(x[:, t], *st, p["Wx"], p["Wh"], p["b"])
        m = mask[:, t, None]
        st = [m * a + (1 - m) * b for a, b in zip(new, st)]
        outs.append(m * new[0])
        caches.append(cache)
    d, grads, dxs = [v.copy() for v in ds_T], {k: np.zeros_like(v) for k, v in p.items()}, []
    for t in reversed(range(T)):
        m = mask[:, t, None]
        dx, *dprev, g = slstm_cell.step_backward(m * (d[0] + dout[:, t]), m * d[1], m * d[2], m * d[3], caches[t])
        d = [m * a + (1 - m) * b for a, b in zip(dprev, d)]
        grads = {k: grads[k] + g[k] for k in grads}
        dxs.append(dx)
    return np.stack(outs, 1), st, np.stack(dxs[::-1], 1), d, grads


def reference_min(step_forward, step_backward, p, x, h0, mask, dout, dh_T):
    T = x.shape[1]
    h, outs, caches = h0, [], []
    for t in range(T):
        h_new, cache = step_forward(x[:, t], h, p["Wx"], p["b"])
        m = mask[:, t, None]
        h = m * h_new + (1 - m) * h
        outs.append(m * h_new)
        caches.append(cache)
    dh, grads, dxs = dh_T.copy(), {k: np.zeros_like(v) for k, v in p.items()}, []
    for t in reversed(range(T)):
        m = mask[:, t, None]
        dx, dh_prev, g = step_backward(m * (dh + dout[:, t]), caches[t])
        dh = m * dh_prev + (1 - m) * dh
        grads = {k: grads[k] + g[k] for k in grads}
        dxs.append(dx)
    return np.stack(outs, 1), h, np.stack(dxs[::-1], 1), dh, grads


@st.composite
def problems(draw, max_T=7):
    B, T = draw(st.integers(1, 4)), draw(st.integers(1, max_T))
    D, H = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keep = draw(st.sampled_from([0.4, 0.8, 1.0]))
    return B, T, D, H, rng, (rng.random((B, T)) < keep).astype(float)


@settings(max_examples=25, deadline=None)
@given(problems())
def test_slstm_layer_equals_reference_steps(problem):
    B, T, D, H, rng, mask = problem
    layer = SLSTM(D, H, rng=rng)
    for p in layer.params.values():
        p += 0.5 * rng.standard_normal(p.shape)
    x = rng.standard_normal((B, T, D))
    s0 = SLSTMState(rng.standard_normal((B, H)), rng.standard_normal((B, H)), rng.uniform(0, 2, (B, H)),
                    rng.standard_normal((B, H)))
    dout, ds_T = rng.standard_normal((B, T, H)), [rng.standard_normal((B, H)) for _ in range(4)]
    ref_out, ref_s, ref_dx, ref_ds0, ref_grads = reference_slstm(layer.params, x, s0, mask, dout, ds_T)
    out, s_T, cache = layer.forward(x, s0, mask)
    dx, ds0 = layer.backward(dout, cache, SLSTMState(*ds_T))
    for name, ours, ref in [("out", out, ref_out), ("dx", dx, ref_dx),
                            *((f"state.{k}", a, b) for k, a, b in zip("hcnm", s_T, ref_s)),
                            *((f"dstate0.{k}", a, b) for k, a, b in zip("hcnm", ds0, ref_ds0)),
                            *((f"d{k}", layer.grads[k], ref_grads[k]) for k in ref_grads)]:
        np.testing.assert_allclose(ours, ref, **TOL, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(problems(), st.sampled_from(["minlstm", "mingru"]), st.sampled_from(["scan", "loop"]))
def test_min_layers_equal_reference_steps(problem, cell, method):
    B, T, D, H, rng, mask = problem
    cls, fwd, bwd = {"minlstm": (MinLSTM, min_cell.minlstm_step_forward, min_cell.minlstm_step_backward),
                     "mingru": (MinGRU, min_cell.mingru_step_forward, min_cell.mingru_step_backward)}[cell]
    layer = cls(D, H, rng=rng, method=method)
    layer.params["b"] += rng.standard_normal(layer.params["b"].shape)
    x, h0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H))
    dout, dh_T = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    ref_out, ref_h, ref_dx, ref_dh0, ref_grads = reference_min(fwd, bwd, layer.params, x, h0, mask, dout, dh_T)
    out, h_T, cache = layer.forward(x, h0, mask)
    dx, dh0 = layer.backward(dout, cache, dh_T)
    for name, ours, ref in [("out", out, ref_out), ("h_T", h_T, ref_h), ("dx", dx, ref_dx), ("dh0", dh0, ref_dh0),
                            *((f"d{k}", layer.grads[k], ref_grads[k]) for k in ref_grads)]:
        np.testing.assert_allclose(ours, ref, **TOL, err_msg=f"{cell} {method} {name}")


# --------------------------------------------------------------------------- the scan


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 3), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.floats(0.05, 0.999), st.booleans())
def test_log_space_scan_equals_loop(T, B, H, seed, low, zeros):
    """Any signs of b and h0, zeros in b (padded steps), coefficients from `low` to 1."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(low, 1.0, (T, B, H))
    b = rng.standard_normal((T, B, H))
    if zeros:
        b[rng.random((T, B, H)) < 0.3] = 0.0
        a[rng.random((T, B, H)) < 0.2] = 1.0
    h0 = rng.standard_normal((B, H))
    np.testing.assert_allclose(linear_scan(np.log(a), b, h0), linear_loop(a, b, h0), **TOL)


def test_scan_error_grows_with_length_but_stays_small():
    """T = 4096 with a* reaching about -1200: the scan's rounding grows with |a*|; measured 1.5e-12 here."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0.3, 0.99, (4096, 4, 5))
    b, h0 = rng.standard_normal((4096, 4, 5)), rng.standard_normal((4, 5))
    err = np.max(np.abs(linear_scan(np.log(a), b, h0) - linear_loop(a, b, h0)))
    assert 1e-15 < err < 1e-11


def test_scan_and_loop_layers_agree_on_long_sequences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1000, 3))
    for cls in (MinLSTM, MinGRU):
        layer = cls(3, 4, rng=1)
        out_s, h_s, cache_s = layer.forward(x, method="scan")
        out_l, h_l, cache_l = layer.forward(x, method="loop")
        np.testing.assert_allclose(out_s, out_l, rtol=1e-11, atol=1e-11)
        dx_s, _ = layer.backward(np.ones_like(out_s), cache_s, method="scan")
        dx_l, _ = layer.backward(np.ones_like(out_l), cache_l, method="loop")
        np.testing.assert_allclose(dx_s, dx_l, rtol=1e-10, atol=1e-10)


def test_minlstm_gates_that_both_round_to_zero_stay_defined():
    """a_f = -50, a_i = -52: sigma rounds both to 0.0; f_norm is then its limit sigma(a_f - a_i)."""
    layer = MinLSTM(1, 1, rng=0)
    layer.params["Wx"][...] = 0.0
    layer.params["b"][...] = [-50.0, -52.0, 1.0]
    for method in ("scan", "loop"):
        out, _, _ = layer.forward(np.zeros((1, 3, 1)), h0=np.array([[2.0]]), method=method)
        f_norm = s(2.0)
        expected = [2.0 * f_norm + (1 - f_norm)]
        expected += [expected[0] * f_norm + (1 - f_norm)]
        expected += [expected[1] * f_norm + (1 - f_norm)]
        np.testing.assert_allclose(out[0, :, 0], expected, rtol=1e-12)


# --------------------------------------------------------------------------- the layers' interface


def test_slstm_in_a_stack_continues_across_chunks():
    """Two chunks with the SLSTMState carried equal one long forward (the char model's truncated BPTT)."""
    rng = np.random.default_rng(0)
    stack = Stack([SLSTM(3, 4, rng=rng), MinLSTM(4, 5, rng=rng)])
    x = rng.standard_normal((2, 9, 3))
    whole, _, _ = stack.forward(x)
    first, state, _ = stack.forward(x[:, :4])
    second, _, _ = stack.forward(x[:, 4:], state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, **TOL)
    assert isinstance(state[0], SLSTMState)


@pytest.mark.parametrize("cls", [SLSTM, MinLSTM, MinGRU])
def test_float32_stays_float32(cls):
    layer = cls(3, 4, rng=0, dtype=np.float32)
    x = np.random.default_rng(1).standard_normal((2, 6, 3)).astype(np.float32)
    out, state, cache = layer.forward(x, mask=np.array([[1, 1, 1, 1, 0, 0], [1] * 6]))
    dx, _ = layer.backward(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


@pytest.mark.parametrize("cls", [SLSTM, MinLSTM, MinGRU])
def test_bad_input_is_refused_and_changes_nothing(cls):
    layer = cls(3, 4, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    out, _, cache = layer.forward(x)
    layer.backward(np.ones_like(out), cache)
    before = {k: v.copy() for k, v in layer.grads.items()}
    with pytest.raises(ValueError, match="h0"):
        layer.forward(x, h0=np.zeros((3, 4)))
    with pytest.raises(TypeError, match="dtype"):
        layer.forward(x.astype(np.float32))
    with pytest.raises(ValueError, match="mask"):
        layer.forward(x, mask=np.full((2, 5), 0.5))
    with pytest.raises(ValueError, match="another"):
        cls(3, 4, rng=0).backward(np.ones_like(out), cache)
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((2, 5, 3)), cache)
    for k, v in before.items():
        np.testing.assert_array_equal(layer.grads[k], v)


def test_slstm_refuses_a_negative_normaliser_and_min_layers_an_unknown_method():
    layer = SLSTM(2, 3, rng=0)
    state = SLSTMState(*(np.zeros((1, 3)) for _ in range(2)), -np.ones((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="normaliser"):
        layer.forward(np.zeros((1, 2, 2)), state)
    with pytest.raises(ValueError, match="4 entries|expected an SLSTMState"):
        layer.forward(np.zeros((1, 2, 2)), (np.zeros((1, 3)),) * 3)
    with pytest.raises(ValueError, match="method"):
        MinLSTM(2, 3, method="fft")
    with pytest.raises(ValueError, match="method"):
        MinGRU(2, 3).forward(np.zeros((1, 2, 2)), method="parallel")


# --------------------------------------------------------------------------- the study


def test_parity_and_copy_batches_hold_what_they_say():
    rng = np.random.default_rng(0)
    x, mask, y = modern_cells.parity_batch(50, 12, rng)
    assert x.shape == (50, 12, 2) and set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y, x[..., 1].sum(axis=1) % 2)
    np.testing.assert_array_equal(x.sum(axis=-1), mask)  # one-hot at real steps, zero at padding
    x, y, score = modern_cells.selective_copy_batch(20, 10, 3, 4, rng)
    ids = x.argmax(axis=-1)
    for row in range(20):
        data = [t for t in ids[row, :10] if t < 4]
        assert list(y[row, 10:]) == data and len(data) == 3
    assert score[:, 10:].all() and not score[:, :10].any()


def test_quick_study_writes_its_table_and_plot(tmp_path):
    assert modern_cells.main(["--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    r = modern_cells.load_results(tmp_path)
    assert set(r["parity"]) == set(modern_cells.CELLS)
    for c in modern_cells.CELLS:
        assert all(0.0 <= a <= 1.0 for accs in r["parity"][c].values() for a in accs)
        assert 0.0 <= r["copy"][c][0] <= 1.0 and r["adding"][c][0] > 0 and r["char"][c][0] > 0
    table = (tmp_path / "modern_cells.md").read_text()
    assert table.count("\n| ") == len(modern_cells.CELLS)  # one row per cell under the header
    assert (tmp_path / "parity.png").stat().st_size > 1000
    json.loads((tmp_path / "modern_cells.json").read_text())


def test_the_shipped_study_is_the_full_setting_and_complete():
    """notebooks/data/modern_cells.json (what notebook 10 and the README's table show) is a full run of every cell and seed."""
    from dataclasses import asdict
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "modern_cells.json"
    r = modern_cells.load_results(path)
    assert json.loads(path.read_text())["settings"] == json.loads(json.dumps(asdict(modern_cells.FULL)))
    seeds = len(modern_cells.FULL.seeds)
    for c in modern_cells.FULL.cells:
        assert sorted(r["parity"][c]) == sorted(modern_cells.FULL.parity_test_lengths)
        assert all(len(v) == seeds for v in r["parity"][c].values())
        assert len(r["copy"][c]) == len(r["adding"][c]) == len(r["char"][c]) == seeds
        assert np.isfinite(r["char"][c]).all() and all(r["ms_per_step"][t][c] > 0 for t in r["ms_per_step"])
    assert path.stat().st_size < 200_000
