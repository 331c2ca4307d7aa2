"""Weight exchange with PyTorch nn.LSTM and Keras LSTM layouts (no framework needed)."""

import numpy as np
import pytest

from lstm_np.sequence.lstm import LSTM


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def torch_reference(sd, x):
    """nn.LSTM's documented equations, written per gate from its state dict
    (rows of weight_ih_l0 are W_ii | W_if | W_ig | W_io), batch_first."""
    W_ii, W_if, W_ig, W_io = np.split(sd["weight_ih_l0"], 4)
    W_hi, W_hf, W_hg, W_ho = np.split(sd["weight_hh_l0"], 4)
    b_ii, b_if, b_ig, b_io = np.split(sd["bias_ih_l0"], 4)
    b_hi, b_hf, b_hg, b_ho = np.split(sd["bias_hh_l0"], 4)
    B, T, _ = x.shape
    h = c = np.zeros((B, W_hi.shape[1]))
    outs = []
    for t in range(T):
        xt = x[:, t]
        i = sig(xt @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
        f = sig(xt @ W_if.T + b_if + h @ W_hf.T + b_hf)
        g = np.tanh(xt @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
        o = sig(xt @ W_io.T + b_io + h @ W_ho.T + b_ho)
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def keras_reference(weights, x):
    """Keras LSTM (default activations): columns of kernel are i | f | c | o."""
    kernel, rec, bias = weights
    H = rec.shape[0]
    B, T, _ = x.shape
    h = c = np.zeros((B, H))
    outs = []
    for t in range(T):
        z = x[:, t] @ kernel + h @ rec + bias
        i, f, cc, o = (z[:, k * H : (k + 1) * H] for k in range(4))
        c = sig(f) * c + sig(i) * np.tanh(cc)
        h = sig(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def torch_state_dict(rng, D=3, H=4):
    return {
        "weight_ih_l0": rng.uniform(-0.5, 0.5, (4 * H, D)),
        "weight_hh_l0": rng.uniform(-0.5, 0.5, (4 * H, H)),
        "bias_ih_l0": rng.uniform(-0.5, 0.5, 4 * H),
        "bias_hh_l0": rng.uniform(-0.5, 0.5, 4 * H),
    }


def test_torch_weights_reproduce_torch_equations(rng):
    sd = torch_state_dict(rng)
    x = rng.standard_normal((2, 6, 3))
    lstm = LSTM.from_torch(sd)
    out, (h, c), _ = lstm.forward(x)
    ref_out, ref_h, ref_c = torch_reference(sd, x)
    np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, ref_h, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c, ref_c, rtol=1e-13, atol=1e-15)


def test_torch_two_biases_are_added_not_doubled(rng):
    sd = torch_state_dict(rng)
    lstm = LSTM.from_torch(sd)
    H = 4
    # our b is gate order i, f, o, g; torch's is i, f, g, o
    total = sd["bias_ih_l0"] + sd["bias_hh_l0"]
    np.testing.assert_array_equal(lstm.params["b"][2 * H : 3 * H], total[3 * H :])  # o
    np.testing.assert_array_equal(lstm.params["b"][3 * H :], total[2 * H : 3 * H])  # g


def test_torch_round_trip_is_exact(rng):
    lstm = LSTM(3, 4, rng=rng)
    sd = lstm.to_torch()
    assert {k: v.shape for k, v in sd.items()} == {
        "weight_ih_l0": (16, 3), "weight_hh_l0": (16, 4), "bias_ih_l0": (16,), "bias_hh_l0": (16,)
    }
    back = LSTM.from_torch(sd)
    for k in lstm.params:
        np.testing.assert_array_equal(back.params[k], lstm.params[k])
    # and the exported weights mean the same thing to torch's equations
    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(lstm.forward(x)[0], torch_reference(sd, x)[0], rtol=1e-13, atol=1e-15)


def test_torch_without_bias_and_dtype(rng):
    sd = torch_state_dict(rng)
    sd32 = {k: v.astype(np.float32) for k, v in sd.items() if k.startswith("weight")}
    lstm = LSTM.from_torch(sd32)
    assert lstm.dtype == np.float32
    np.testing.assert_array_equal(lstm.params["b"], 0.0)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda sd: sd.update(weight_ih_l1=sd["weight_ih_l0"]), "weight_ih_l1"),
        (lambda sd: sd.pop("weight_hh_l0"), "missing 'weight_hh_l0'"),
        (lambda sd: sd.update(weight_hh_l0=np.zeros((16, 5))), r"weight_hh_l0 has shape \(16, 5\); expected \(4H, H\) = \(16, 4\)"),
        (lambda sd: sd.update(bias_ih_l0=np.zeros(12)), r"bias_ih_l0 has shape \(12,\)"),
        (lambda sd: sd.update(weight_ih_l0=np.zeros((15, 3))), r"weight_ih_l0 has shape \(15, 3\); expected \(4H, D\)"),
    ],
)
def test_torch_bad_state_dict_is_a_clear_error(rng, change, message):
    sd = torch_state_dict(rng)
    change(sd)
    with pytest.raises(ValueError, match=message):
        LSTM.from_torch(sd)


def test_keras_weights_reproduce_keras_equations(rng):
    D, H = 3, 4
    weights = [rng.uniform(-0.5, 0.5, s) for s in ((D, 4 * H), (H, 4 * H), (4 * H,))]
    x = rng.standard_normal((2, 6, D))
    out, (h, c), _ = LSTM.from_keras(weights).forward(x)
    ref_out, ref_h, ref_c = keras_reference(weights, x)
    np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c, ref_c, rtol=1e-13, atol=1e-15)


def test_keras_round_trip_is_exact(rng):
    lstm = LSTM(3, 4, rng=rng)
    weights = lstm.to_keras()
    assert [w.shape for w in weights] == [(3, 16), (4, 16), (16,)]
    back = LSTM.from_keras(weights)
    for k in lstm.params:
        np.testing.assert_array_equal(back.params[k], lstm.params[k])
    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(lstm.forward(x)[0], keras_reference(weights, x)[0], rtol=1e-13, atol=1e-15)


def test_keras_bad_weights_are_a_clear_error(rng):
    with pytest.raises(ValueError, match="expected \\[kernel, recurrent_kernel, bias\\]"):
        LSTM.from_keras([np.zeros((3, 16))])
    with pytest.raises(ValueError, match=r"recurrent_kernel has shape \(5, 16\); expected \(H, 4H\) = \(4, 16\)"):
        LSTM.from_keras([np.zeros((3, 16)), np.zeros((5, 16)), np.zeros(16)])


def test_matches_real_torch_when_installed(rng):
    """Optional: against nn.LSTM itself (torch is never a dependency)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    m = torch.nn.LSTM(3, 5, batch_first=True).double()
    x = rng.standard_normal((4, 7, 3))
    h0, c0 = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    with torch.no_grad():
        ref, (ref_h, ref_c) = m(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    lstm = LSTM.from_torch({k: v.detach().numpy() for k, v in m.state_dict().items()})
    out, (h, c), _ = lstm.forward(x, h0, c0)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h, ref_h[0].numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, ref_c[0].numpy(), rtol=1e-12, atol=1e-14)

    # gradients too: torch's autograd against our BPTT
    xt = torch.from_numpy(x).requires_grad_()
    y, _ = m(xt)
    R = rng.standard_normal(y.shape)
    (y * torch.from_numpy(R)).sum().backward()
    _, _, cache = lstm.forward(x)
    dx, _, _ = lstm.backward(R, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    exported = LSTM.from_torch({
        "weight_ih_l0": m.weight_ih_l0.grad.numpy(), "weight_hh_l0": m.weight_hh_l0.grad.numpy(),
    })
    np.testing.assert_allclose(lstm.grads["Wx"], exported.params["Wx"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(lstm.grads["Wh"], exported.params["Wh"], rtol=1e-10, atol=1e-13)
