"""The gradient-check cases of the equations and the building blocks: cells, layers, stacks, losses, variants.

Each case builds a small float64 problem from a generator and returns
``(loss_fn, arrays, analytic)`` for ``gradcheck.check_gradients``.
``CASES`` lists every case of the package in the order the report prints
them (the models of the applications come from ``model_cases``).
"""

from __future__ import annotations

import numpy as np

from ..cells import article as article_cell
from ..cells import gru as gru_cell
from ..cells import lstm as lstm_cell
from ..cells import minrnn as minrnn_cell
from ..cells import rnn as rnn_cell
from ..cells import slstm as slstm_cell
from ..cells.variants import VARIANTS
from ..feedforward import Dense, Embedding
from ..losses import masked_mse
from ..sequence import GRU, LSTM, RNN
from ..sequence.minrnn import MinGRU, MinLSTM
from ..sequence.slstm import SLSTM, SLSTMState
from ..sequence.variants import VariantLSTM
from .model_cases import _attentive_case, _bpr_case, _char_lm_case, _next_item_case


# Each case builds a small float64 problem and returns (loss_fn, arrays, analytic).
# A random projection R turns outputs into a scalar loss sum(out * R), so that
# dL/dout = R exercises every entry of the backward pass.


def _cell_case(rng, B=3, D=4, H=5):
    """The reference LSTM step (``cells.lstm``)."""
    x, h_prev, c_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    Wx, Wh, b = (0.5 * rng.standard_normal(s) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    Rh, Rc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    arrays = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "Wx": Wx, "Wh": Wh, "b": b}

    def loss():
        h, c, _ = lstm_cell.step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return np.sum(h * Rh) + np.sum(c * Rc)

    _, _, cache = lstm_cell.step_forward(x, h_prev, c_prev, Wx, Wh, b)
    dx, dh_prev, dc_prev, grads = lstm_cell.step_backward(Rh, Rc, cache)
    return loss, arrays, {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, **grads}


def _single_state_cell_case(module, gates, bias_names, rng, B=3, D=4, H=5):
    """The reference GRU or RNN step (``cells.gru``, ``cells.rnn``)."""
    x, h_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    Wx, Wh = 0.5 * rng.standard_normal((D, gates * H)), 0.5 * rng.standard_normal((H, gates * H))
    biases = {k: 0.5 * rng.standard_normal(gates * H) for k in bias_names}
    Rh = rng.standard_normal((B, H))
    arrays = {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, **biases}

    def loss():
        return np.sum(module.step_forward(x, h_prev, Wx, Wh, *biases.values())[0] * Rh)

    _, cache = module.step_forward(x, h_prev, Wx, Wh, *biases.values())
    dx, dh_prev, grads = module.step_backward(Rh, cache)
    return loss, arrays, {"x": dx, "h_prev": dh_prev, **grads}


def _gru_cell_case(rng):
    return _single_state_cell_case(gru_cell, 3, ("bx", "bh"), rng)


def _rnn_cell_case(rng):
    return _single_state_cell_case(rnn_cell, 1, ("b",), rng)


def _article_cell_case(rng):
    """The article's recurrence h = f * h_prev + i * g (``cells.article``)."""
    return _single_state_cell_case(article_cell, 4, ("b",), rng)


def _layer_case(rng, B=3, T=5, D=3, H=4):
    lstm = LSTM(D, H, rng=rng)
    x = rng.standard_normal((B, T, D))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    mask = np.ones((B, T))
    mask[0, 3:] = 0  # a shorter sequence
    mask[1, 1] = 0   # a hole inside a sequence
    R, Rh, Rc = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    arrays = {"x": x, "h0": h0, "c0": c0, **lstm.params}

    def loss():
        out, (h, c), _ = lstm.forward(x, h0, c0, mask)
        return np.sum(out * R) + np.sum(h * Rh) + np.sum(c * Rc)

    _, _, cache = lstm.forward(x, h0, c0, mask)
    dx, dh0, dc0 = lstm.backward(R, cache, dh_T=Rh, dc_T=Rc)
    return loss, arrays, {"x": dx, "h0": dh0, "c0": dc0, **lstm.grads}


def _embedding_case(rng, num=6, dim=3):
    emb = Embedding(num, dim, rng=rng)
    ids = np.array([[1, 4, 1], [0, 1, 5]])  # id 1 repeats
    R = rng.standard_normal(ids.shape + (dim,))

    def loss():
        return np.sum(emb.forward(ids)[0] * R)

    _, cache = emb.forward(ids)
    emb.backward(R, cache)
    return loss, dict(emb.params), dict(emb.grads)


def _dense_case(rng, B=3, T=4, H=5):
    head = Dense(H, 1, rng=rng, bias=3.5)
    h = rng.standard_normal((B, T, H))
    R = rng.standard_normal((B, T, 1))

    def loss():
        return np.sum(head.forward(h)[0] * R)

    _, cache = head.forward(h)
    dh = head.backward(R, cache)
    return loss, {"h": h, **head.params}, {"h": dh, **head.grads}


def _loss_case(rng, B=3, T=4):
    pred, target = rng.standard_normal((B, T)), rng.standard_normal((B, T))
    mask = (rng.random((B, T)) < 0.7).astype(float)
    mask[0, 0] = 1

    def loss():
        return masked_mse(pred, target, mask)[0]

    return loss, {"pred": pred}, {"pred": masked_mse(pred, target, mask)[1]}


def _stack_case(rng, B=3, T=5, num=7, E=3, H=4):
    """ids -> Embedding -> LSTM (masked) -> Dense -> masked MSE."""
    emb, lstm, head = Embedding(num, E, rng=rng), LSTM(E, H, rng=rng), Dense(H, 1, rng=rng, bias=3.0)
    ids = rng.integers(0, num, size=(B, T))
    target = rng.uniform(1, 5, size=(B, T))
    mask = np.ones((B, T))
    mask[2, 2:] = 0
    layers = {"embedding": emb, "lstm": lstm, "head": head}
    arrays = {f"{n}.{k}": v for n, layer in layers.items() for k, v in layer.params.items()}

    def forward():
        e, e_cache = emb.forward(ids)
        out, _, l_cache = lstm.forward(e, mask=mask)
        y, h_cache = head.forward(out)
        loss, dy = masked_mse(y[..., 0], target, mask)
        return loss, dy, (e_cache, l_cache, h_cache)

    loss, dy, (e_cache, l_cache, h_cache) = forward()
    dout = head.backward(dy[..., None], h_cache)
    de, _, _ = lstm.backward(dout, l_cache)
    emb.backward(de, e_cache)
    analytic = {f"{n}.{k}": v.copy() for n, layer in layers.items() for k, v in layer.grads.items()}
    return (lambda: forward()[0]), arrays, analytic


def _single_state_layer_case(layer_cls, rng, B=3, T=5, D=3, H=4):
    """``RNN`` or ``GRU``: like ``_layer_case`` with a hidden state only."""
    layer = layer_cls(D, H, rng=rng)
    for k in layer.params:
        if k.startswith("b"):  # not just the zero initial biases
            layer.params[k] += 0.3 * rng.standard_normal(layer.params[k].shape)
    x = rng.standard_normal((B, T, D))
    h0 = rng.standard_normal((B, H))
    mask = np.ones((B, T))
    mask[0, 3:] = 0  # a shorter sequence
    mask[1, 1] = 0   # a hole inside a sequence
    R, Rh = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    arrays = {"x": x, "h0": h0, **layer.params}

    def loss():
        out, h, _ = layer.forward(x, h0, mask)
        return np.sum(out * R) + np.sum(h * Rh)

    _, _, cache = layer.forward(x, h0, mask)
    dx, dh0 = layer.backward(R, cache, dh_T=Rh)
    return loss, arrays, {"x": dx, "h0": dh0, **layer.grads}


def _rnn_layer_case(rng):
    return _single_state_layer_case(RNN, rng)


def _gru_layer_case(rng):
    return _single_state_layer_case(GRU, rng)


def _stacked_case(rng, B=3, T=4, D=3, H=(4, 3, 2)):
    """``Stack`` of an LSTM, a GRU and an RNN, with dropout (fixed masks) between them,
    a sequence mask, initial states and gradients arriving at every final state."""
    from ..sequence.stack import Stack

    layers = [LSTM(D, H[0], rng=rng), GRU(H[0], H[1], rng=rng), RNN(H[1], H[2], rng=rng)]
    for layer in layers:  # not just the zero initial biases
        for k in layer.params:
            if k.startswith("b"):
                layer.params[k] += 0.3 * rng.standard_normal(layer.params[k].shape)
    stack = Stack(layers, dropout=0.5)
    x = rng.standard_normal((B, T, D))
    mask = np.ones((B, T))
    mask[0, 2:] = 0  # a shorter sequence
    mask[1, 1] = 0   # a hole inside a sequence
    drop = [(rng.random((B, T, h)) < 0.5) / 0.5 for h in H[:2]]  # fixed dropout masks, scaled by 1/(1-p)
    state0 = [(rng.standard_normal((B, H[0])), rng.standard_normal((B, H[0]))),
              rng.standard_normal((B, H[1])), rng.standard_normal((B, H[2]))]
    R = rng.standard_normal((B, T, H[2]))
    Rs = [(rng.standard_normal((B, H[0])), rng.standard_normal((B, H[0]))),
          rng.standard_normal((B, H[1])), rng.standard_normal((B, H[2]))]
    arrays = {"x": x, "l0.h0": state0[0][0], "l0.c0": state0[0][1], "l1.h0": state0[1], "l2.h0": state0[2],
              **stack.params}

    def loss():
        out, state, _ = stack.forward(x, state0, mask, dropout_masks=drop)
        (h, c), h1, h2 = state
        return (np.sum(out * R) + np.sum(h * Rs[0][0]) + np.sum(c * Rs[0][1]) + np.sum(h1 * Rs[1])
                + np.sum(h2 * Rs[2]))

    _, _, cache = stack.forward(x, state0, mask, dropout_masks=drop)
    dx, ds = stack.backward(R, cache, Rs)
    analytic = {"x": dx, "l0.h0": ds[0][0], "l0.c0": ds[0][1], "l1.h0": ds[1], "l2.h0": ds[2],
                **{k: v.copy() for k, v in stack.grads.items()}}
    return loss, arrays, analytic


def _softmax_ce_case(rng, B=3, T=4, V=5):
    """``softmax_cross_entropy`` with a mask (mean over the unmasked positions)."""
    from ..losses import softmax_cross_entropy

    logits = 2.0 * rng.standard_normal((B, T, V))
    targets = rng.integers(0, V, size=(B, T))
    mask = np.ones((B, T))
    mask[0, 1:] = 0

    def loss():
        return softmax_cross_entropy(logits, targets, mask)[0]

    return loss, {"logits": logits}, {"logits": softmax_cross_entropy(logits, targets, mask)[1]}


def _attention_case(score, rng, B=3, S=5, H=4, A=3):
    """One query per row over a masked history (``cells.attention``): q, K, V and the additive score's
    parameters; row 1 has two padded steps, row 2 a single real step."""
    from ..cells.attention import step_backward, step_forward

    q, K, V = rng.standard_normal((B, H)), rng.standard_normal((B, S, H)), rng.standard_normal((B, S, H))
    mask = np.ones((B, S))
    mask[1, 3:] = 0
    mask[2, 1:] = 0
    params = {} if score == "dot" else {"Wq": rng.standard_normal((H, A)), "Wk": rng.standard_normal((H, A)),
                                        "v": rng.standard_normal(A)}
    R = rng.standard_normal((B, H))
    arrays = {"q": q, "K": K, "V": V, **params}

    def loss():
        return float(np.sum(step_forward(q, K, V, mask, params, score)[0] * R))

    dq, dK, dV, grads = step_backward(R, step_forward(q, K, V, mask, params, score)[2])
    assert not dK[1, 3:].any() and not dV[1, 3:].any()  # no gradient reaches a padded step
    return loss, arrays, {"q": dq, "K": dK, "V": dV, **grads}


CASES = {
    "lstm_cell": _cell_case,
    "gru_cell": _gru_cell_case,
    "rnn_cell": _rnn_cell_case,
    "lstm_layer": _layer_case,
    "embedding": _embedding_case,
    "dense": _dense_case,
    "loss": _loss_case,
    "stack": _stack_case,
    "rnn_layer": _rnn_layer_case,
    "gru_layer": _gru_layer_case,
    "article_cell": _article_cell_case,
    "stacked": _stacked_case,
    "softmax_ce": _softmax_ce_case,
    "char_lm": _char_lm_case,
    "next_item": _next_item_case,
    "next_item_tied_2_layers": lambda rng: _next_item_case(rng, tied=True, num_layers=2),
    "next_item_gru": lambda rng: _next_item_case(rng, cell="gru"),
    "bpr_mf": _bpr_case,
    "attention_dot": lambda rng: _attention_case("dot", rng),
    "attention_additive": lambda rng: _attention_case("additive", rng),
    "next_item_attention": _attentive_case,
    "next_item_attention_dot_untied": lambda rng: _attentive_case(rng, score="dot", tied=False),
}


# --------------------------------------------------------------------------- variants of the cell
# Each variant's reference step (``cells.variants``) and the layer running it
# over a masked sequence (``sequence.variants.VariantLSTM``). The parameters
# are drawn at random (peepholes too, which start at zero in a new layer), so
# that every term of each backward pass is exercised.


def _variant_cell_case(name, rng, B=3, D=4, H=5):
    v = VARIANTS[name]
    k = len(v.gates)
    x, h_prev, c_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    p = {"Wx": 0.5 * rng.standard_normal((D, k * H)), "Wh": 0.5 * rng.standard_normal((H, k * H)),
         "b": 0.5 * rng.standard_normal(k * H)}
    p.update({n: rng.standard_normal(H) for n in v.peepholes})
    Rh, Rc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    arrays = {"x": x, "h_prev": h_prev, "c_prev": c_prev, **p}

    def loss():
        h, c, _ = v.step_forward(x, h_prev, c_prev, p)
        return np.sum(h * Rh) + np.sum(c * Rc)

    _, _, cache = v.step_forward(x, h_prev, c_prev, p)
    dx, dh_prev, dc_prev, grads = v.step_backward(Rh, Rc, cache)
    return loss, arrays, {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, **grads}


def _variant_layer_case(name, rng, B=3, T=5, D=3, H=4):
    layer = VariantLSTM(name, D, H, rng=rng)
    for p in layer.params.values():
        p += 0.3 * rng.standard_normal(p.shape)  # nonzero peepholes, biases not at their initial values
    x = rng.standard_normal((B, T, D))
    h0 = rng.standard_normal((B, H))
    c0 = rng.standard_normal((B, H)) if VARIANTS[name].has_cell else None
    mask = np.ones((B, T))
    mask[0, 3:] = 0  # a shorter sequence
    mask[1, 1] = 0   # a hole inside a sequence
    R, Rh, Rc = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    arrays = {"x": x, "h0": h0, **({} if c0 is None else {"c0": c0}), **layer.params}

    def loss():
        out, (h, c), _ = layer.forward(x, h0, c0, mask)
        return np.sum(out * R) + np.sum(h * Rh) + np.sum(c * Rc)

    _, _, cache = layer.forward(x, h0, c0, mask)
    dx, dh0, dc0 = layer.backward(R, cache, dh_T=Rh, dc_T=Rc)
    analytic = {"x": dx, "h0": dh0, **({} if c0 is None else {"c0": dc0}), **layer.grads}
    return loss, arrays, analytic


def _variant_cases():
    """``<name>_cell`` and ``<name>_layer`` for each variant. The steps of "lstm"
    and "article" are ``cells.lstm`` and ``cells.article`` themselves, checked
    as "lstm_cell" and "article_cell"; of those two only the layer is added."""
    cases = {"lstm_variant_layer": lambda rng: _variant_layer_case("lstm", rng)}
    for name in VARIANTS:
        if name not in ("lstm", "article"):
            cases[f"{name}_cell"] = lambda rng, name=name: _variant_cell_case(name, rng)
        if name != "lstm":
            cases[f"{name}_layer"] = lambda rng, name=name: _variant_layer_case(name, rng)
    return cases


CASES.update(_variant_cases())


# --------------------------------------------------------------------------- the 2024 cells
# xLSTM's sLSTM (losses on all four states, so the gradient through the
# stabiliser's max is checked too) and minLSTM/minGRU, each as its reference
# step and as its layer over a masked sequence (the min cells by scan and by loop).



def _slstm_cell_case(rng, B=3, D=4, H=5):
    x = rng.standard_normal((B, D))
    h_prev, c_prev, m_prev = (rng.standard_normal((B, H)) for _ in range(3))
    n_prev = rng.uniform(0.5, 2.0, (B, H))  # a sum of positive gates
    Wx, Wh, b = (0.5 * rng.standard_normal(s) for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    R = [rng.standard_normal((B, H)) for _ in range(4)]
    arrays = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "n_prev": n_prev, "m_prev": m_prev, "Wx": Wx, "Wh": Wh, "b": b}

    def loss():
        states = slstm_cell.step_forward(x, h_prev, c_prev, n_prev, m_prev, Wx, Wh, b)[:4]
        return sum(np.sum(s * r) for s, r in zip(states, R))

    cache = slstm_cell.step_forward(x, h_prev, c_prev, n_prev, m_prev, Wx, Wh, b)[4]
    dx, dh, dc, dn, dm, grads = slstm_cell.step_backward(*R, cache)
    return loss, arrays, {"x": dx, "h_prev": dh, "c_prev": dc, "n_prev": dn, "m_prev": dm, **grads}


def _min_cell_case(cell, rng, B=3, D=4, H=5):
    k, forward, backward = {"minlstm": (3, minrnn_cell.minlstm_step_forward, minrnn_cell.minlstm_step_backward),
                            "mingru": (2, minrnn_cell.mingru_step_forward, minrnn_cell.mingru_step_backward)}[cell]
    x, h_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    Wx, b = 0.5 * rng.standard_normal((D, k * H)), 0.5 * rng.standard_normal(k * H)
    Rh = rng.standard_normal((B, H))

    def loss():
        return np.sum(forward(x, h_prev, Wx, b)[0] * Rh)

    dx, dh_prev, grads = backward(Rh, forward(x, h_prev, Wx, b)[1])
    return loss, {"x": x, "h_prev": h_prev, "Wx": Wx, "b": b}, {"x": dx, "h_prev": dh_prev, **grads}


def _masked_sequence(rng, B, T, D):
    mask = np.ones((B, T))
    mask[0, 3:] = 0  # a shorter sequence
    mask[1, 1] = 0   # a hole inside a sequence
    return rng.standard_normal((B, T, D)), mask


def _slstm_layer_case(rng, B=3, T=5, D=3, H=4):
    layer = SLSTM(D, H, rng=rng)
    for p in layer.params.values():
        p += 0.3 * rng.standard_normal(p.shape)
    x, mask = _masked_sequence(rng, B, T, D)
    s0 = SLSTMState(rng.standard_normal((B, H)), rng.standard_normal((B, H)), rng.uniform(0.5, 2.0, (B, H)),
                    rng.standard_normal((B, H)))
    R, Rs = rng.standard_normal((B, T, H)), SLSTMState(*(rng.standard_normal((B, H)) for _ in range(4)))
    arrays = {"x": x, "h0": s0.h, "c0": s0.c, "n0": s0.n, "m0": s0.m, **layer.params}

    def loss():
        out, state, _ = layer.forward(x, s0, mask)
        return np.sum(out * R) + sum(np.sum(s * r) for s, r in zip(state, Rs))

    dx, ds0 = layer.backward(R, layer.forward(x, s0, mask)[2], Rs)
    return loss, arrays, {"x": dx, "h0": ds0.h, "c0": ds0.c, "n0": ds0.n, "m0": ds0.m, **layer.grads}


def _min_layer_case(cls, method, rng, B=3, T=5, D=3, H=4):
    layer = cls(D, H, rng=rng, method=method)
    layer.params["b"] += 0.5 * rng.standard_normal(layer.params["b"].shape)
    x, mask = _masked_sequence(rng, B, T, D)
    h0, R, Rh = rng.standard_normal((B, H)), rng.standard_normal((B, T, H)), rng.standard_normal((B, H))

    def loss():
        out, h, _ = layer.forward(x, h0, mask)
        return np.sum(out * R) + np.sum(h * Rh)

    dx, dh0 = layer.backward(R, layer.forward(x, h0, mask)[2], Rh)
    return loss, {"x": x, "h0": h0, **layer.params}, {"x": dx, "h0": dh0, **layer.grads}


CASES.update({
    "slstm_cell": _slstm_cell_case,
    "minlstm_cell": lambda rng: _min_cell_case("minlstm", rng),
    "mingru_cell": lambda rng: _min_cell_case("mingru", rng),
    "slstm_layer": _slstm_layer_case,
    "minlstm_layer_scan": lambda rng: _min_layer_case(MinLSTM, "scan", rng),
    "minlstm_layer_loop": lambda rng: _min_layer_case(MinLSTM, "loop", rng),
    "mingru_layer_scan": lambda rng: _min_layer_case(MinGRU, "scan", rng),
    "mingru_layer_loop": lambda rng: _min_layer_case(MinGRU, "loop", rng),
})
