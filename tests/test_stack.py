"""Stacked recurrent layers (lstm_np.sequence.stack.Stack)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_np.gradcheck import CASES, TOLERANCE, check_gradients, numerical_gradient, relative_error
from lstm_np.sequence import GRU, LSTM, RNN
from lstm_np.sequence.stack import Stack, has_cell_state

KINDS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def mixed_stack(rng, D=3, H=(4, 5, 2), dropout=0.0):
    layers = [LSTM(D, H[0], rng=rng), GRU(H[0], H[1], rng=rng), RNN(H[1], H[2], rng=rng)]
    return Stack(layers, dropout=dropout, rng=rng)


def random_state(rng, stack, B):
    state = []
    for layer in stack.layers:
        h = rng.standard_normal((B, layer.hidden_size))
        state.append((h, rng.standard_normal((B, layer.hidden_size))) if has_cell_state(layer) else h)
    return state


def test_forward_equals_layers_applied_one_after_another(rng):
    stack = mixed_stack(rng)
    x = rng.standard_normal((3, 6, 3))
    mask = np.ones((3, 6))
    mask[1, 4:] = 0
    state = random_state(rng, stack, 3)
    out, final, _ = stack.forward(x, state, mask)

    h0, c0 = state[0]
    a, (ha, ca), _ = stack.layers[0].forward(x, h0, c0, mask)
    b, hb, _ = stack.layers[1].forward(a, state[1], mask)
    c, hc, _ = stack.layers[2].forward(b, state[2], mask)
    np.testing.assert_array_equal(out, c)
    np.testing.assert_array_equal(final[0][0], ha)
    np.testing.assert_array_equal(final[0][1], ca)
    np.testing.assert_array_equal(final[1], hb)
    np.testing.assert_array_equal(final[2], hc)


def test_backward_equals_layers_backward_in_reverse(rng):
    stack = mixed_stack(rng)
    x = rng.standard_normal((2, 5, 3))
    out, _, cache = stack.forward(x)
    dout = rng.standard_normal(out.shape)
    dx, ds = stack.backward(dout, cache)
    grads = {k: v.copy() for k, v in stack.grads.items()}

    l0, l1, l2 = stack.layers
    a, _, c0 = l0.forward(x)
    b, _, c1 = l1.forward(a)
    _, _, c2 = l2.forward(b)
    db, dh2 = l2.backward(dout, c2)
    da, dh1 = l1.backward(db, c1)
    dx_ref, dh0, dc0 = l0.backward(da, c0)
    np.testing.assert_array_equal(dx, dx_ref)
    np.testing.assert_array_equal(ds[2], dh2)
    np.testing.assert_array_equal(ds[1], dh1)
    np.testing.assert_array_equal(ds[0][0], dh0)
    np.testing.assert_array_equal(ds[0][1], dc0)
    for k, v in stack.grads.items():
        np.testing.assert_array_equal(grads[k], v)


def test_gradcheck_passes_with_dropout_masks_states_and_padding():
    errors = check_gradients(*CASES["stacked"](np.random.default_rng(0)))
    assert len(errors) == 15
    assert max(errors.values()) <= TOLERANCE, errors


def test_gradcheck_catches_a_backward_that_ignores_the_dropout_mask():
    # control: backward given a cache whose dropout masks are all ones must fail the check
    rng = np.random.default_rng(1)
    stack = mixed_stack(rng, D=3, H=(4, 3, 2), dropout=0.5)
    x = rng.standard_normal((2, 4, 3))
    masks = [(rng.random((2, 4, h)) < 0.5) / 0.5 for h in (4, 3)]
    R = rng.standard_normal((2, 4, 2))

    def f():
        return np.sum(stack.forward(x, dropout_masks=masks)[0] * R)

    _, _, cache = stack.forward(x, dropout_masks=masks)
    good = stack.backward(R, cache)[0]
    wrong = stack.backward(R, cache._replace(masks=[np.ones_like(m) for m in masks]))[0]
    assert check_gradients(f, {"x": x}, {"x": good})["x"] <= TOLERANCE
    assert check_gradients(f, {"x": x}, {"x": wrong})["x"] > 1e-3


def test_params_are_the_layers_own_arrays(rng):
    stack = mixed_stack(rng)
    assert sorted(stack.params) == ["l0.Wh", "l0.Wx", "l0.b", "l1.Wh", "l1.Wx", "l1.bh", "l1.bx",
                                    "l2.Wh", "l2.Wx", "l2.b"]
    stack.params["l1.Wx"][0, 0] = 123.0
    assert stack.layers[1].params["Wx"][0, 0] == 123.0


# ------------------------------------------------------------------ dropout


def test_dropout_is_seeded_and_off_at_evaluation(rng):
    x = np.random.default_rng(5).standard_normal((4, 7, 3))

    def run(seed, train):
        stack = Stack.build("lstm", 3, 6, 3, rng=seed, dropout=0.4)
        return stack.forward(x, train=train)[0]

    np.testing.assert_array_equal(run(0, True), run(0, True))  # same seed, same masks
    assert not np.allclose(run(0, True), run(0, False))         # dropout changes the output in training
    no_dropout = Stack.build("lstm", 3, 6, 3, rng=0, dropout=0.0).forward(x)[0]
    np.testing.assert_array_equal(run(0, False), no_dropout)   # and is the identity at evaluation
    other = Stack.build("lstm", 3, 6, 3, rng=0, dropout=0.4)
    other.rng = np.random.default_rng(99)                       # same weights, other masks
    assert not np.allclose(other.forward(x)[0], run(0, True))


def test_dropout_masks_are_inverted_dropout_between_layers_only(rng):
    stack = Stack.build("gru", 3, 200, 2, rng=0, dropout=0.25)
    _, _, cache = stack.forward(rng.standard_normal((8, 10, 3)))
    assert len(cache.masks) == 1                                # between the two layers, not after the last
    m = cache.masks[0]
    assert set(np.unique(m)) == {0.0, 1 / 0.75}
    assert abs((m == 0).mean() - 0.25) < 0.01                  # 16,000 draws
    assert stack.forward(rng.standard_normal((8, 10, 3)), train=False)[2].masks == [None]


def test_fixed_dropout_masks_are_used(rng):
    stack = Stack.build("rnn", 2, 3, 2, rng=0, dropout=0.5)
    x = rng.standard_normal((2, 4, 2))
    zero = [np.zeros((2, 4, 3))]
    out = stack.forward(x, dropout_masks=zero)[0]
    # the second layer sees only zeros: its output is tanh(b + h Wh) from h0 = 0 with b = 0
    np.testing.assert_array_equal(out, 0.0)
    ones = [np.ones((2, 4, 3))]
    np.testing.assert_array_equal(stack.forward(x, dropout_masks=ones)[0], stack.forward(x, train=False)[0])


# ------------------------------------------------------------------ truncated BPTT


@pytest.mark.parametrize("split", [1, 3, 5])
def test_two_chunks_with_state_carried_equal_one_long_forward_and_backward(rng, split):
    stack = mixed_stack(rng)
    x = rng.standard_normal((2, 6, 3))
    state0 = random_state(rng, stack, 2)
    dout = rng.standard_normal((2, 6, 2))
    out, final, cache = stack.forward(x, state0)
    dx, ds0 = stack.backward(dout, cache)
    full = {k: v.copy() for k, v in stack.grads.items()}

    out1, s1, c1 = stack.forward(x[:, :split], state0)
    out2, s2, c2 = stack.forward(x[:, split:], s1)
    np.testing.assert_allclose(np.concatenate([out1, out2], axis=1), out, rtol=0, atol=1e-14)
    np.testing.assert_allclose(s2[2], final[2], rtol=0, atol=1e-14)
    # full BPTT across the boundary: the second chunk's gradient at its initial state goes to the first
    dx2, ds_mid = stack.backward(dout[:, split:], c2)
    g2 = {k: v.copy() for k, v in stack.grads.items()}
    dx1, ds_first = stack.backward(dout[:, :split], c1, ds_mid)
    np.testing.assert_allclose(np.concatenate([dx1, dx2], axis=1), dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds_first[0][1], ds0[0][1], rtol=0, atol=1e-12)
    for k in full:
        np.testing.assert_allclose(stack.grads[k] + g2[k], full[k], rtol=0, atol=1e-12)


@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=3),
       B=st.integers(1, 3), T=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_any_stack_equals_its_layers_in_sequence_property(kinds, B, T, seed):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 5, size=len(kinds) + 1)]
    layers = [KINDS[k](sizes[i], sizes[i + 1], rng=rng) for i, k in enumerate(kinds)]
    stack = Stack(layers)
    x = rng.standard_normal((B, T, sizes[0]))
    mask = (rng.random((B, T)) < 0.8).astype(float)
    out, final, _ = stack.forward(x, mask=mask)
    h = x
    for layer, s in zip(layers, final):
        if has_cell_state(layer):
            h, (hT, cT), _ = layer.forward(h, mask=mask)
            np.testing.assert_array_equal(s[1], cT)
        else:
            h, hT, _ = layer.forward(h, mask=mask)
            s = (s,)
        np.testing.assert_array_equal(s[0], hT)
    np.testing.assert_array_equal(out, h)


# ------------------------------------------------------------------ bad input


def test_bad_arguments_are_clear_errors(rng):
    with pytest.raises(ValueError, match="layer 1 has input_size 5 but layer 0 has hidden_size 4"):
        Stack([LSTM(3, 4, rng=0), GRU(5, 2, rng=0)])
    with pytest.raises(ValueError, match="dropout must be a number in"):
        Stack([LSTM(3, 4, rng=0)], dropout=1.0)
    with pytest.raises(ValueError, match="layers is empty"):
        Stack([])
    with pytest.raises(ValueError, match="cell must be one of"):
        Stack.build("lstmm", 3, 4, 2)
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        Stack.build("lstm", 3, 4, 0)
    stack = mixed_stack(rng)
    x = rng.standard_normal((2, 3, 3))
    with pytest.raises(ValueError, match="state has 2 entries; expected one per layer"):
        stack.forward(x, [None, None])
    with pytest.raises(ValueError, match=r"state\[0\] must be a pair"):
        stack.forward(x, [np.zeros((2, 4)), None, None])
    with pytest.raises(ValueError, match="dropout_masks has 1 entries; expected 2"):
        stack.forward(x, dropout_masks=[np.ones((2, 3, 4))])
    with pytest.raises(TypeError, match="cache must be the StackCache"):
        stack.backward(np.zeros((2, 3, 2)), None)


def test_custom_layer_with_the_interface_can_be_stacked(rng):
    class Doubler:
        """A GRU/RNN-style layer: out = 2 x, state = the last input."""

        input_size = hidden_size = 3
        params, grads = {}, {}

        def forward(self, x, h0=None, mask=None):
            return 2 * x, x[:, -1].copy(), None

        def backward(self, dout, cache, dh_T=None):
            return 2 * dout, np.zeros_like(dout[:, 0])

    assert not has_cell_state(Doubler())
    stack = Stack([Doubler(), LSTM(3, 2, rng=0)])
    x = rng.standard_normal((2, 4, 3))
    out, state, cache = stack.forward(x)
    np.testing.assert_array_equal(out, stack.layers[1].forward(2 * x)[0])
    dx, _ = stack.backward(np.ones_like(out), cache)
    lstm = stack.layers[1]
    np.testing.assert_array_equal(dx, 2 * lstm.backward(np.ones_like(out), lstm.forward(2 * x)[2])[0])


# ------------------------------------------------------------------ PyTorch exchange


def test_torch_round_trip_and_keys():
    sd = Stack.build("gru", 3, 4, 3, rng=0).to_torch()
    assert sorted(sd) == sorted(f"{w}_l{k}" for k in range(3) for w in ("weight_ih", "weight_hh", "bias_ih",
                                                                          "bias_hh"))
    back = Stack.from_torch(sd, "gru")
    for k, v in Stack.build("gru", 3, 4, 3, rng=0).params.items():
        np.testing.assert_array_equal(back.params[k], v)


def test_torch_bad_state_dicts_are_clear_errors():
    sd = Stack.build("lstm", 3, 4, 2, rng=0).to_torch()
    with pytest.raises(ValueError, match="weight_ih_l0_reverse"):
        Stack.from_torch({**sd, "weight_ih_l0_reverse": sd["weight_ih_l0"]})
    with pytest.raises(ValueError, match=r"none for layer\(s\) \[1\]"):
        Stack.from_torch({k.replace("_l1", "_l2"): v for k, v in sd.items()})
    with pytest.raises(ValueError, match="layer 1 .*weight_hh_l1"):
        Stack.from_torch({**sd, "weight_hh_l1": np.zeros((16, 5))})
    with pytest.raises(ValueError, match="layer 1 has input_size 3 but layer 0 has hidden_size 4"):
        Stack.from_torch({**sd, "weight_ih_l1": np.zeros((16, 3))})
    with pytest.raises(ValueError, match="cell must be one of"):
        Stack.from_torch(sd, "transformer")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_matches_torch_multilayer_modules_in_float64(rng, cell):
    """Optional: against nn.LSTM/GRU/RNN(num_layers=3) itself (torch is never a dependency)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    N, B, T, D, H = 3, 2, 5, 3, 4
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
        D, H, num_layers=N, batch_first=True).double()
    stack = Stack.from_torch({k: v.detach().numpy() for k, v in module.state_dict().items()}, cell)
    assert stack.num_layers == N
    x = rng.standard_normal((B, T, D))
    h0, c0 = rng.standard_normal((N, B, H)), rng.standard_normal((N, B, H))
    tx, th0, tc0 = (torch.from_numpy(a).requires_grad_() for a in (x, h0, c0))
    if cell == "lstm":
        ref, (ref_h, ref_c) = module(tx, (th0, tc0))
        state = [(h0[k], c0[k]) for k in range(N)]
    else:
        ref, ref_h = module(tx, th0)
        state = [h0[k] for k in range(N)]
    out, final, cache = stack.forward(x, state)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=0, atol=1e-12)
    hs = np.stack([s[0] if cell == "lstm" else s for s in final])
    np.testing.assert_allclose(hs, ref_h.detach().numpy(), rtol=0, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(np.stack([s[1] for s in final]), ref_c.detach().numpy(), rtol=0, atol=1e-12)

    # gradients: a random projection of the outputs and of the final states
    R, Rh, Rc = rng.standard_normal(out.shape), rng.standard_normal((N, B, H)), rng.standard_normal((N, B, H))
    loss = (ref * torch.from_numpy(R)).sum() + (ref_h * torch.from_numpy(Rh)).sum()
    if cell == "lstm":
        loss = loss + (ref_c * torch.from_numpy(Rc)).sum()
        dstate = [(Rh[k], Rc[k]) for k in range(N)]
    else:
        dstate = [Rh[k] for k in range(N)]
    loss.backward()
    dx, ds0 = stack.backward(R, cache, dstate)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=0, atol=1e-10)
    dh0 = np.stack([s[0] if cell == "lstm" else s for s in ds0])
    np.testing.assert_allclose(dh0, th0.grad.numpy(), rtol=0, atol=1e-10)
    if cell == "lstm":
        np.testing.assert_allclose(np.stack([s[1] for s in ds0]), tc0.grad.numpy(), rtol=0, atol=1e-10)
    # weight gradients, mapped back through to_torch's layout
    for k, layer in enumerate(stack.layers):
        saved = {n: v.copy() for n, v in layer.params.items()}
        for n in layer.params:
            layer.params[n][...] = layer.grads[n]
        exported = layer.to_torch()
        for n in layer.params:
            layer.params[n][...] = saved[n]
        tp = dict(module.named_parameters())
        np.testing.assert_allclose(exported["weight_ih_l0"], tp[f"weight_ih_l{k}"].grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(exported["weight_hh_l0"], tp[f"weight_hh_l{k}"].grad.numpy(), rtol=0, atol=1e-10)
        # biases: ours is b = b_ih + b_hh (LSTM, RNN), so dL/db = dL/db_ih = dL/db_hh; the GRU keeps both
        np.testing.assert_allclose(exported["bias_ih_l0"], tp[f"bias_ih_l{k}"].grad.numpy(), rtol=0, atol=1e-10)
        if cell == "gru":
            np.testing.assert_allclose(exported["bias_hh_l0"], tp[f"bias_hh_l{k}"].grad.numpy(), rtol=0, atol=1e-10)
        else:
            np.testing.assert_allclose(exported["bias_ih_l0"], tp[f"bias_hh_l{k}"].grad.numpy(), rtol=0, atol=1e-10)
    # and our weights exported back give torch's module
    sd = stack.to_torch()
    module2 = type(module)(D, H, num_layers=N, batch_first=True).double()
    module2.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    with torch.no_grad():
        ref2 = module2(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(stack.forward(x)[0], ref2, rtol=0, atol=1e-12)


@settings(max_examples=15)
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=3),
       B=st.integers(1, 2), T=st.integers(1, 4), p=st.sampled_from([0.0, 0.5]), seed=st.integers(0, 2**16))
def test_stack_gradients_match_central_differences_property(kinds, B, T, p, seed):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 4, size=len(kinds) + 1)]
    stack = Stack([KINDS[k](sizes[i], sizes[i + 1], rng=rng) for i, k in enumerate(kinds)], dropout=p, rng=rng)
    x = rng.standard_normal((B, T, sizes[0]))
    mask = (rng.random((B, T)) < 0.8).astype(float)
    state0 = random_state(rng, stack, B)
    drop = [(rng.random((B, T, h)) >= p) / (1 - p) for h in sizes[1:-1]]
    R = rng.standard_normal((B, T, sizes[-1]))

    def loss():
        return np.sum(stack.forward(x, state0, mask, dropout_masks=drop)[0] * R)

    _, _, cache = stack.forward(x, state0, mask, dropout_masks=drop)
    dx, _ = stack.backward(R, cache)
    arrays = {"x": x, **stack.params}
    analytic = {"x": dx, **{k: v.copy() for k, v in stack.grads.items()}}
    numerical = {k: numerical_gradient(loss, a) for k, a in arrays.items()}
    # One relative error over all arrays together: with random sizes one array's gradient can be
    # ~1e-7 (a saturated gate), where central differences (noise ~1e-11) cannot reach 1e-7 relative.
    flat = lambda d: np.concatenate([d[k].ravel() for k in arrays])  # noqa: E731
    assert relative_error(flat(analytic), flat(numerical)) <= TOLERANCE


def test_stack_refuses_non_layers_and_mixed_dtypes():
    with pytest.raises(TypeError, match=r"layers\[1\] is a str"):
        Stack([LSTM(3, 4, rng=0), "x"])
    with pytest.raises(ValueError, match=r"layers\[1\] has dtype float64 but layers\[0\] has float32"):
        Stack([LSTM(3, 4, rng=0, dtype=np.float32), LSTM(4, 4, rng=0)])


# ------------------------------------------------------------------ bad state dicts, bias=False (issue 18)


@pytest.mark.parametrize("state", [None, [np.zeros((16, 3))], np.zeros((16, 3)), "weight_ih_l0"])
def test_from_torch_of_a_non_dict_is_a_type_error_as_for_one_layer(state):
    from lstm_np.sequence import LSTM

    for read in (Stack.from_torch, LSTM.from_torch):
        with pytest.raises(TypeError, match=f"state_dict must be a dict of name -> array .*got {type(state).__name__}"):
            read(state)


def test_from_torch_refuses_biases_missing_from_some_layers():
    sd = Stack.build("lstm", 3, 4, 3, rng=0).to_torch()
    with pytest.raises(ValueError, match="layer 2 .*has bias_ih_l2 but not bias_hh_l2; a PyTorch module has both"):
        Stack.from_torch({k: v for k, v in sd.items() if k != "bias_hh_l2"})
    with pytest.raises(ValueError, match=r"biases for layer\(s\) \[0, 1\] but none for layer\(s\) \[2\]"):
        Stack.from_torch({k: v for k, v in sd.items() if not k.endswith("_l2") or k.startswith("weight")})


def test_from_torch_reads_l1_only_as_layer_1():
    sd = Stack.build("gru", 3, 4, 2, rng=0).to_torch()
    with pytest.raises(ValueError, match=r"keys \['weight_ih_l01'\]"):
        Stack.from_torch({**sd, "weight_ih_l01": np.zeros_like(sd["weight_ih_l1"])}, "gru")
    with pytest.raises(ValueError, match=r"keys \[3\]"):
        Stack.from_torch({**sd, 3: sd["weight_ih_l1"]}, "gru")


def test_from_torch_refuses_mixed_dtypes_unless_told_which():
    sd = Stack.build("rnn", 3, 4, 2, rng=0).to_torch()
    mixed = {**sd, "weight_ih_l0": sd["weight_ih_l0"].astype(np.float32)}
    with pytest.raises(TypeError, match="mixes floating dtypes .*float32: weight_ih_l0; float64: "):
        Stack.from_torch(mixed, "rnn")
    stack = Stack.from_torch(mixed, "rnn", dtype=np.float64)
    assert {p.dtype for p in stack.params.values()} == {np.dtype(np.float64)}
    single = {k.replace("_l1", "_l0"): v for k, v in mixed.items() if k.endswith("_l0")}
    from lstm_np.sequence import RNN

    with pytest.raises(TypeError, match="mixes floating dtypes"):
        RNN.from_torch(single)
    assert Stack.from_torch({k: v.astype(np.float32) for k, v in sd.items()}, "rnn").layers[1].dtype == np.float32


def test_a_transposed_weight_ih_is_named_not_weight_hh():
    sd = Stack.build("lstm", 4, 3, 2, rng=0).to_torch()  # weight_ih_l0 (12, 4): D divisible by the 4 gates
    with pytest.raises(ValueError) as e:
        Stack.from_torch({**sd, "weight_ih_l0": sd["weight_ih_l0"].T})
    assert str(e.value) == ("layer 0 (keys *_l0): weight_ih_l0 has shape (4, 12); expected (4H, D) = (12, D), "
                            "H = 3 being the hidden size of weight_hh_l0 (12, 3) (it looks transposed: (D, kH))")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_to_torch_of_a_bias_free_stack_writes_no_biases(cell):
    sd = Stack.build(cell, 3, 4, 2, rng=0).to_torch()
    weights = {k: v for k, v in sd.items() if k.startswith("weight")}  # nn.LSTM(..., bias=False).state_dict()
    stack = Stack.from_torch(weights, cell)
    back = stack.to_torch()
    assert sorted(back) == sorted(weights)  # a strict load_state_dict into the bias=False module accepts it
    for k, v in weights.items():
        np.testing.assert_array_equal(back[k], v)
    assert sorted(stack.layers[0].to_torch()) == ["weight_hh_l0", "weight_ih_l0"]
    assert sorted(Stack.from_torch(sd, cell).to_torch()) == sorted(sd)  # with biases: all four kept
    bias = next(k for k in stack.layers[1].params if k.startswith("b"))
    stack.layers[1].params[bias][0] = 0.5  # trained: the biases are no longer zero
    with pytest.raises(ValueError, match="without biases .*no longer zero"):
        stack.to_torch()
    mixed = Stack([Stack.from_torch(sd, cell).layers[0], stack.layers[1]])
    with pytest.raises(ValueError, match=r"layers \[0\] have biases and the others were read without"):
        mixed.to_torch()
