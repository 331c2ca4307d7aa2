"""The variants of the cell: their defining equations, gradients, masks, and
the "lstm" variant equal to the fast LSTM."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_np import LSTM
from lstm_np.cells import lstm as lstm_cell
from lstm_np.cells import variants as cv
from lstm_np.cells.lstm import sigmoid
from lstm_np.cells.variants import VARIANTS, split_gates
from lstm_np.gradcheck import CASES, TOLERANCE, check_gradients, gradcheck_report
from lstm_np.sequence.variants import VariantCache, VariantLSTM

NAMES = list(VARIANTS)
WITH_CELL = [n for n in NAMES if VARIANTS[n].has_cell]


def random_params(name, D, H, rng, scale=0.5):
    v = VARIANTS[name]
    k = len(v.gates)
    p = {"Wx": scale * rng.standard_normal((D, k * H)), "Wh": scale * rng.standard_normal((H, k * H)),
         "b": scale * rng.standard_normal(k * H)}
    p.update({n: rng.standard_normal(H) for n in v.peepholes})
    return p


def step_inputs(rng, B=3, D=4, H=5):
    return rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))


def pre_activations(x, h_prev, p, gates):
    return dict(zip(gates, split_gates(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], gates)))


# --------------------------------------------------------------------------- the defining equations


def test_registry_names_and_gate_blocks():
    assert NAMES == ["lstm", "peephole", "coupled", "no_forget", "no_input", "no_output", "no_input_act",
                     "no_output_act", "article"]
    assert {n: VARIANTS[n].gates for n in NAMES if len(VARIANTS[n].gates) == 3} == {
        "coupled": "fog", "no_forget": "iog", "no_input": "fog", "no_output": "ifg"}


def test_lstm_variant_is_the_reference_step(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("lstm", 4, 5, rng)
    h, c, _ = VARIANTS["lstm"].step_forward(x, h_prev, c_prev, p)
    h_ref, c_ref, _ = lstm_cell.step_forward(x, h_prev, c_prev, p["Wx"], p["Wh"], p["b"])
    np.testing.assert_array_equal(h, h_ref)
    np.testing.assert_array_equal(c, c_ref)


def test_peephole_gates_see_the_cell(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("peephole", 4, 5, rng)
    h, c, (*_, i, f, o, g, _c) = cv.peephole_forward(x, h_prev, c_prev, p)
    z = pre_activations(x, h_prev, p, "ifog")
    np.testing.assert_allclose(i, sigmoid(z["i"] + p["p_i"] * c_prev), rtol=0, atol=1e-15)
    np.testing.assert_allclose(f, sigmoid(z["f"] + p["p_f"] * c_prev), rtol=0, atol=1e-15)
    np.testing.assert_allclose(c, f * c_prev + i * np.tanh(z["g"]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(o, sigmoid(z["o"] + p["p_o"] * c), rtol=0, atol=1e-15)  # the new c, not c_prev
    np.testing.assert_allclose(h, o * np.tanh(c), rtol=0, atol=1e-15)
    # Zero peepholes: exactly the standard cell.
    p0 = {**p, "p_i": np.zeros(5), "p_f": np.zeros(5), "p_o": np.zeros(5)}
    h0, c0, _ = cv.peephole_forward(x, h_prev, c_prev, p0)
    h_ref, c_ref, _ = lstm_cell.step_forward(x, h_prev, c_prev, p["Wx"], p["Wh"], p["b"])
    np.testing.assert_allclose(h0, h_ref, rtol=0, atol=1e-15)
    np.testing.assert_allclose(c0, c_ref, rtol=0, atol=1e-15)


def test_coupled_input_gate_is_one_minus_forget(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("coupled", 4, 5, rng)
    h, c, (*_, i, f, o, g, _c) = cv.coupled_forward(x, h_prev, c_prev, p)
    z = pre_activations(x, h_prev, p, "fog")
    np.testing.assert_array_equal(i, 1 - f)
    np.testing.assert_allclose(f, sigmoid(z["f"]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(c, f * c_prev + (1 - f) * np.tanh(z["g"]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(h, sigmoid(z["o"]) * np.tanh(c), rtol=0, atol=1e-15)


def test_no_forget_cell_only_accumulates(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("no_forget", 4, 5, rng)
    h, c, _ = cv.no_forget_forward(x, h_prev, c_prev, p)
    z = pre_activations(x, h_prev, p, "iog")
    np.testing.assert_allclose(c, c_prev + sigmoid(z["i"]) * np.tanh(z["g"]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(h, sigmoid(z["o"]) * np.tanh(c), rtol=0, atol=1e-15)
    # dc_prev = dc: the gradient along the cell is never damped.
    dc = rng.standard_normal((3, 5))
    _, _, dc_prev, _ = cv.no_forget_backward(np.zeros((3, 5)), dc, cv.no_forget_forward(x, h_prev, c_prev, p)[2])
    np.testing.assert_array_equal(dc_prev, dc)


def test_no_input_gate_writes_every_candidate(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("no_input", 4, 5, rng)
    h, c, _ = cv.no_input_forward(x, h_prev, c_prev, p)
    z = pre_activations(x, h_prev, p, "fog")
    np.testing.assert_allclose(c, sigmoid(z["f"]) * c_prev + np.tanh(z["g"]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(h, sigmoid(z["o"]) * np.tanh(c), rtol=0, atol=1e-15)


def test_no_output_gate_shows_tanh_c(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("no_output", 4, 5, rng)
    h, c, _ = cv.no_output_forward(x, h_prev, c_prev, p)
    z = pre_activations(x, h_prev, p, "ifg")
    np.testing.assert_allclose(c, sigmoid(z["f"]) * c_prev + sigmoid(z["i"]) * np.tanh(z["g"]), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(h, np.tanh(c))


def test_no_input_activation_candidate_is_the_pre_activation(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("no_input_act", 4, 5, rng, scale=2.0)  # z_g well outside (-1, 1)
    h, c, (*_, i, f, o, g, _c) = cv.no_input_act_forward(x, h_prev, c_prev, p)
    z = pre_activations(x, h_prev, p, "ifog")
    np.testing.assert_array_equal(g, z["g"])
    assert np.abs(g).max() > 1  # so a tanh would have shown
    np.testing.assert_allclose(c, f * c_prev + i * z["g"], rtol=0, atol=1e-14)


def test_no_output_activation_shows_the_raw_cell(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("no_output_act", 4, 5, rng)
    h, c, (*_, i, f, o, g, _c) = cv.no_output_act_forward(x, h_prev, c_prev, p)
    np.testing.assert_array_equal(h, o * c)
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=0, atol=1e-15)


def test_article_has_no_cell_and_ignores_the_output_gate(rng):
    x, h_prev, c_prev = step_inputs(rng)
    p = random_params("article", 4, 5, rng)
    h, c, _ = cv.article_forward(x, h_prev, c_prev, p)
    z = pre_activations(x, h_prev, p, "ifog")
    np.testing.assert_allclose(h, sigmoid(z["f"]) * h_prev + sigmoid(z["i"]) * np.tanh(z["g"]), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(c, 0.0)
    # Changing the o columns or c_prev changes nothing.
    q = {k: v.copy() for k, v in p.items()}
    q["Wx"][:, 10:15] += 1.0
    q["b"][10:15] -= 2.0
    np.testing.assert_array_equal(cv.article_forward(x, h_prev, 5 * c_prev, q)[0], h)


@pytest.mark.parametrize("name", NAMES)
def test_every_variant_starts_from_the_lstm_weights_of_its_gates(name):
    H = 4
    lstm, layer = LSTM(3, H, rng=7), VariantLSTM(name, 3, H, rng=7)
    for k, gate in enumerate(VARIANTS[name].gates):
        j = "ifog".index(gate)
        np.testing.assert_array_equal(layer.params["Wx"][:, k * H : (k + 1) * H], lstm.params["Wx"][:, j * H : (j + 1) * H])
        np.testing.assert_array_equal(layer.params["Wh"][:, k * H : (k + 1) * H], lstm.params["Wh"][:, j * H : (j + 1) * H])
        np.testing.assert_array_equal(layer.params["b"][k * H : (k + 1) * H], lstm.params["b"][j * H : (j + 1) * H])
    assert set(layer.params) == {"Wx", "Wh", "b"} | set(VARIANTS[name].peepholes)


# --------------------------------------------------------------------------- gradients


def test_gradcheck_covers_every_variant_and_passes():
    rows = gradcheck_report(seed=3)
    components = {r["component"] for r in rows}
    for name in NAMES:
        assert f"{name}_layer" in components or name == "lstm"
        assert name in ("lstm", "article") or f"{name}_cell" in components
    assert "lstm_variant_layer" in components
    bad = [(r["component"], r["name"], r["error"]) for r in rows if not r["ok"]]
    assert not bad
    # The peephole weights are checked, and every error is far below the tolerance.
    assert {"p_i", "p_f", "p_o"} <= {r["name"] for r in rows if r["component"] == "peephole_layer"}


def test_gradcheck_catches_a_broken_backward(rng, monkeypatch):
    """Control: coupled's backward without the path f -> i = 1 - f fails the check."""

    def broken(dh, dc_next, cache):
        x, h_prev, c_prev, p, i, f, o, g, c = cache
        tanh_c = np.tanh(c)
        dc = dc_next + dh * o * (1 - tanh_c**2)
        dz_f = dc * c_prev * f * (1 - f)  # missing "- dc * g"
        dz_o = dh * tanh_c * o * (1 - o)
        dz_g = dc * i * (1 - g**2)
        dx, dh_prev, grads = cv._through_z([dz_f, dz_o, dz_g], x, h_prev, p["Wx"], p["Wh"])
        return dx, dh_prev, dc * f, grads

    loss, arrays, analytic = CASES["coupled_cell"](rng)
    assert max(check_gradients(loss, arrays, analytic).values()) <= TOLERANCE
    monkeypatch.setitem(VARIANTS, "coupled", VARIANTS["coupled"]._replace(step_backward=broken))
    loss, arrays, analytic = CASES["coupled_cell"](rng)
    assert check_gradients(loss, arrays, analytic)["Wx"] > 1e-3


@settings(max_examples=25)
@given(
    name=st.sampled_from(NAMES),
    B=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3), H=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1), masked=st.booleans(), with_state=st.booleans(),
)
def test_layer_gradients_match_numerical(name, B, T, D, H, seed, masked, with_state):
    rng = np.random.default_rng(seed)
    layer = VariantLSTM(name, D, H, rng=rng)
    for p in layer.params.values():
        p += 0.3 * rng.standard_normal(p.shape)
    x = rng.standard_normal((B, T, D))
    h0 = rng.standard_normal((B, H)) if with_state else None
    c0 = rng.standard_normal((B, H)) if with_state and VARIANTS[name].has_cell else None
    mask = (rng.random((B, T)) < 0.7).astype(float) if masked else None
    R, Rh, Rc = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))

    def loss():
        out, (h, c), _ = layer.forward(x, h0, c0, mask)
        return np.sum(out * R) + np.sum(h * Rh) + np.sum(c * Rc)

    _, _, cache = layer.forward(x, h0, c0, mask)
    dx, dh0, dc0 = layer.backward(R, cache, dh_T=Rh, dc_T=Rc)
    arrays, analytic = {"x": x, **layer.params}, {"x": dx, **layer.grads}
    if h0 is not None:
        arrays["h0"], analytic["h0"] = h0, dh0
    if c0 is not None:
        arrays["c0"], analytic["c0"] = c0, dc0
    errors = check_gradients(loss, arrays, analytic)
    assert max(errors.values()) <= TOLERANCE, errors
    if mask is not None:  # a padded step passes no gradient to its input
        np.testing.assert_array_equal(dx[mask == 0], 0.0)


# --------------------------------------------------------------------------- the layer


@settings(max_examples=30)
@given(
    B=st.integers(1, 4), T=st.integers(1, 6), D=st.integers(1, 4), H=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1), masked=st.booleans(),
)
def test_lstm_variant_equals_the_fast_lstm(B, T, D, H, seed, masked):
    rng = np.random.default_rng(seed)
    fast, ref = LSTM(D, H, rng=seed), VariantLSTM("lstm", D, H, rng=seed)
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    mask = (rng.random((B, T)) < 0.6) if masked else None
    out_f, (h_f, c_f), cache_f = fast.forward(x, h0, c0, mask)
    out_r, (h_r, c_r), cache_r = ref.forward(x, h0, c0, mask)
    for a, b in ((out_f, out_r), (h_f, h_r), (c_f, c_r)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    dout, dh_T, dc_T = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    for a, b in zip(fast.backward(dout, cache_f, dh_T, dc_T), ref.backward(dout, cache_r, dh_T, dc_T)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    for k in fast.grads:
        np.testing.assert_allclose(fast.grads[k], ref.grads[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_padded_batch_equals_unpadded_and_holes_carry_the_state(name, rng):
    layer = VariantLSTM(name, 2, 3, rng=rng)
    x = rng.standard_normal((2, 6, 2))
    mask = np.ones((2, 6))
    mask[0, 4:] = 0  # row 0 is 4 steps long
    mask[1, 2] = 0   # row 1 skips step 2
    out, (h, c), _ = layer.forward(x, mask=mask)
    out0, (h0, c0), _ = layer.forward(x[:1, :4])
    np.testing.assert_allclose(out[0, :4], out0[0], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(out[0, 4:], 0.0)
    np.testing.assert_allclose(h[0], h0[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(c[0], c0[0], rtol=0, atol=1e-15)
    out1, (h1, c1), _ = layer.forward(x[1:, [0, 1, 3, 4, 5]])
    np.testing.assert_allclose(h[1], h1[0], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(out[1, 2], 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_two_chunks_equal_one_sequence_forward_and_backward(name, rng):
    layer = VariantLSTM(name, 2, 3, rng=rng)
    x, dout = rng.standard_normal((2, 7, 2)), rng.standard_normal((2, 7, 3))
    out, (h, c), cache = layer.forward(x)
    dx, dh0, dc0 = layer.backward(dout, cache)
    grads = {k: g.copy() for k, g in layer.grads.items()}

    out_a, state_a, cache_a = layer.forward(x[:, :3])
    out_b, (h_b, c_b), cache_b = layer.forward(x[:, 3:], *state_a)
    np.testing.assert_allclose(np.concatenate([out_a, out_b], axis=1), out, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_b, h, rtol=0, atol=1e-14)
    dx_b, dh_mid, dc_mid = layer.backward(dout[:, 3:], cache_b)
    grads_b = {k: g.copy() for k, g in layer.grads.items()}
    dx_a, dh0_a, dc0_a = layer.backward(dout[:, :3], cache_a, dh_mid, dc_mid)
    np.testing.assert_allclose(np.concatenate([dx_a, dx_b], axis=1), dx, rtol=0, atol=1e-13)
    np.testing.assert_allclose(dh0_a, dh0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(dc0_a, dc0, rtol=0, atol=1e-13)
    for k in grads:
        np.testing.assert_allclose(layer.grads[k] + grads_b[k], grads[k], rtol=0, atol=1e-13)


def test_article_layer_returns_zero_cell_state_and_refuses_a_nonzero_c0(rng):
    layer = VariantLSTM("article", 2, 3, rng=rng)
    x = rng.standard_normal((2, 4, 2))
    out, (h, c), cache = layer.forward(x, c0=np.zeros((2, 3)))
    np.testing.assert_array_equal(c, 0.0)
    _, _, dc0 = layer.backward(np.ones_like(out), cache, dc_T=np.ones((2, 3)))
    np.testing.assert_array_equal(dc0, 0.0)
    before = {k: v.copy() for k, v in layer.params.items()}
    with pytest.raises(ValueError, match="c0: the variant 'article' has no cell state"):
        layer.forward(x, c0=np.ones((2, 3)))
    for k in before:
        np.testing.assert_array_equal(layer.params[k], before[k])


def test_bad_arguments_are_refused_clearly(rng):
    with pytest.raises(ValueError, match="variant must be one of"):
        VariantLSTM("lstm2", 2, 3)
    layer = VariantLSTM("coupled", 2, 3, rng=rng)
    with pytest.raises(ValueError, match=r"x has shape \(2, 4, 3\); expected \(B, T, D\)"):
        layer.forward(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="x contains NaN"):
        layer.forward(np.full((2, 4, 2), np.nan))
    with pytest.raises(ValueError, match="h0 has shape"):
        layer.forward(np.zeros((2, 4, 2)), h0=np.zeros((3, 3)))
    out, _, cache = layer.forward(np.zeros((2, 4, 2)))
    with pytest.raises(TypeError, match="cache must be the VariantCache"):
        layer.backward(out, (1, 2))
    other = VariantLSTM("no_input", 2, 3, rng=rng)
    with pytest.raises(ValueError, match="cache is from the variant 'coupled'"):
        other.backward(out, cache)
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(out[:, :2], cache)
    assert isinstance(cache, VariantCache)


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name, rng):
    layer = VariantLSTM(name, 2, 3, rng=rng, dtype=np.float32)
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    out, (h, c), cache = layer.forward(x, mask=np.array([[1, 1, 0, 1], [1, 1, 1, 1]]))
    dx, dh0, dc0 = layer.backward(np.ones_like(out), cache)
    assert {a.dtype for a in (out, h, c, dx, dh0, dc0, *layer.grads.values())} == {np.dtype(np.float32)}
    with pytest.raises(TypeError, match="x has dtype float64"):
        layer.forward(x.astype(np.float64))


# --------------------------------------------------------------------------- the laboratory (lstm_np.studies.laboratory)


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    from lstm_np.studies import LAB_QUICK, run_lab

    out = tmp_path_factory.mktemp("lab")
    return out, run_lab(out, settings=LAB_QUICK, verbose=False, workers=1)


def test_lab_quick_run_covers_every_variant_and_task(lab_run):
    from lstm_np.studies import LAB_QUICK, format_lab, load_lab

    out, r = lab_run
    assert {p.name for p in out.iterdir()} >= {"lab.md", "lab.json", "lab.png"}
    for v in NAMES:
        for T in LAB_QUICK.lengths:
            assert len(r["adding"][v][T]) == len(LAB_QUICK.seeds)
        assert len(r["char"][v]) == len(LAB_QUICK.seeds) and np.isfinite(r["cost"][v]["char_ms"])
        assert len(r["rec"][v]) == len(LAB_QUICK.seeds) and np.isfinite(r["rec"][v]).all()
        assert r["cost"][v]["adding_ms"] > 0
    # Parameters: the dropped gates have none (D = 2, H = 8: a gate is 2*8 + 8*8 + 8 = 88).
    params = {v: r["cost"][v]["params"] for v in NAMES}
    assert params["lstm"] == 4 * 88 and params["coupled"] == 3 * 88 and params["peephole"] == 4 * 88 + 3 * 8
    table = (out / "lab.md").read_text()
    assert all(f"| `{v}` |" in table for v in NAMES)
    back = load_lab(out)
    assert back["adding"] == {v: {T: list(x) for T, x in d.items()} for v, d in r["adding"].items()}
    # A result written by another version, with a setting this one does not know, still formats.
    assert format_lab({**r, "settings": {**r["settings"], "char_model": "local"}}) == format_lab(r)


def test_lab_runs_are_reproducible():
    from lstm_np.studies import LAB_QUICK
    from lstm_np.studies.laboratory import _lab_job

    for job in [("adding", "coupled", 8, 3), ("char", "peephole", None, 3)]:
        a, b = _lab_job(job, LAB_QUICK), _lab_job(job, LAB_QUICK)
        key = "mse" if job[0] == "adding" else "bpc"
        assert a[key] == b[key]


def test_lab_settings_refuse_unknown_variants():
    from lstm_np.studies import LabSettings

    with pytest.raises(ValueError, match=r"variants \['gru'\] are not in"):
        LabSettings(variants=("lstm", "gru"))


def test_variants_stack_and_the_stack_passes_the_gradient_check(rng):
    """A variant is a layer like the others: ``sequence.Stack`` takes it (cell state carried per layer)."""
    from lstm_np.sequence import Stack

    stack = Stack([VariantLSTM("peephole", 2, 3, rng=rng), VariantLSTM("article", 3, 3, rng=rng), LSTM(3, 2, rng=rng)])
    for p in stack.params.values():
        p += 0.3 * rng.standard_normal(p.shape)
    x, R = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 4, 2))
    mask = np.array([[1, 1, 1, 0], [1, 0, 1, 1]])

    def loss():
        return np.sum(stack.forward(x, mask=mask, train=False)[0] * R)

    out, _, cache = stack.forward(x, mask=mask, train=False)
    stack.backward(R, cache)
    analytic = {k: g.copy() for k, g in stack.grads.items()}
    errors = check_gradients(loss, stack.params, analytic)
    assert len(errors) == 6 + 3 + 3 and max(errors.values()) <= TOLERANCE, errors


def test_backward_refuses_another_layers_cache_and_non_finite_results():
    """A cache of another layer of the same sizes, and results that overflow, are refused; grads unchanged."""
    x = np.ones((2, 3, 3))
    layer, other = VariantLSTM("peephole", 3, 4, rng=0), VariantLSTM("peephole", 3, 4, rng=1)
    before = {k: g.copy() for k, g in layer.grads.items()}
    _, _, foreign = other.forward(x)
    with pytest.raises(ValueError, match="another VariantLSTM"):
        layer.backward(np.ones((2, 3, 4)), foreign)
    article = VariantLSTM("article", 3, 4, rng=0)
    out, _, cache = article.forward(x)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="not finite"):
        article.backward(np.full_like(out, 1e308), cache)
    assert all(np.array_equal(layer.grads[k], before[k]) for k in before)
    assert all(np.all(g == 0) for g in article.grads.values())  # never written


@pytest.mark.parametrize("bad", [float("nan"), None, "1"])
def test_forget_bias_must_be_a_finite_number(bad):
    with pytest.raises((TypeError, ValueError), match="forget_bias"):
        VariantLSTM("peephole", 3, 4, rng=0, forget_bias=bad)


def test_variant_name_must_be_a_string():
    with pytest.raises(ValueError, match="variant must be one of"):
        VariantLSTM(["lstm"], 3, 4)
