"""The checker names every mistake of the general classes, and never blames a right part.

The mistakes are generated, not listed: learner-style steps with knobs (the
order the gate blocks are read or concatenated in, the nonlinearity of each
gate, the derivative of each, how each weight is transposed, the axis of each
bias reduction, products that broadcast only for one row). For each, the test
knows from the knob which parts are wrong on their own line, and asserts that
exactly those are blamed (verdict "wrong" or "unread"), that the parts computed
from them are "follows", that every other part is "right", and that the named
mistake's words say what the knob did. The learner steps are written here
independently of the checker's own model of the mistakes.
"""

import itertools

import numpy as np
import pytest

from lstm_np import exercises
from lstm_np.cells.lstm import sigmoid

ACT = {"sigma": sigmoid, "tanh": np.tanh, "none": lambda v: v}
LSTM_GATES, GRU_GATES = ("i", "f", "o", "g"), ("r", "z", "n")


def verdicts(result, kind):
    return {p for p, v in result.parts.items() if v == kind}


def assert_blames(result, blamed, follows, words=()):
    """Exactly ``blamed`` is blamed, exactly ``follows`` follows, everything else is right; ``words`` are said."""
    assert not result.ok, str(result)
    got_blamed = verdicts(result, "wrong") | verdicts(result, "unread")
    assert got_blamed == set(blamed), str(result)
    assert verdicts(result, "follows") == set(follows), str(result)
    assert verdicts(result, "right") == set(result.parts) - set(blamed) - set(follows), str(result)
    text = str(result)
    for w in words:
        assert w in text, f"{w!r} not in:\n{text}"


# --------------------------------------------------------------------------- learner-style steps with knobs


def lstm_forward(order=LSTM_GATES, acts=None):
    acts = {"i": "sigma", "f": "sigma", "o": "sigma", "g": "tanh", "c": "tanh", **(acts or {})}

    def fn(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        z = x @ Wx + h_prev @ Wh + b
        blocks = {gate: z[:, k * H : (k + 1) * H] for k, gate in enumerate(order)}
        i, f, o, g = (ACT[acts[k]](blocks[k]) for k in LSTM_GATES)
        c = f * c_prev + i * g
        h = o * ACT[acts["c"]](c)
        return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, o, g, c)

    return fn


DERIV = {  # how a learner may write the derivative of a gate from its stored output s
    "right_sigma": lambda s: s * (1 - s),
    "right_tanh": lambda t: 1 - t**2,
    "tanh_deriv": lambda s: 1 - s**2,
    "sigmoid_deriv": lambda t: t * (1 - t),
    "deriv_of_output_sigma": lambda s: sigmoid(s) * (1 - sigmoid(s)),
    "deriv_of_output_tanh": lambda t: 1 - np.tanh(t) ** 2,
    "no_deriv": lambda s: 1.0,
}


def lstm_backward(deriv=None, dtanh_c="right_tanh", order=LSTM_GATES, dx="right", dh="right", dW="right", db="sum"):
    d = {"i": "right_sigma", "f": "right_sigma", "o": "right_sigma", "g": "right_tanh", **(deriv or {})}

    def fn(dh_, dc_next, cache):
        x, h_prev, c_prev, Wx, Wh, i, f, o, g, c = cache
        H, D = h_prev.shape[1], x.shape[1]
        tanh_c = np.tanh(c)
        dc = dc_next + dh_ * o * DERIV[dtanh_c](tanh_c)
        dzs = {"i": dc * g * DERIV[d["i"]](i), "f": dc * c_prev * DERIV[d["f"]](f),
               "o": dh_ * tanh_c * DERIV[d["o"]](o), "g": dc * i * DERIV[d["g"]](g)}  # fmt: skip
        dz = np.concatenate([dzs[k] for k in order], axis=1)
        dx_ = {"right": lambda: dz @ Wx.T, "reshape": lambda: dz @ Wx.reshape(4 * H, D),
               "no_T": lambda: dz @ Wx}[dx]()  # fmt: skip
        blocks = [(dz[:, k * H : (k + 1) * H], Wh[:, k * H : (k + 1) * H]) for k in range(4)]
        dh_prev = {"right": lambda: dz @ Wh.T, "reshape": lambda: dz @ Wh.reshape(4 * H, H),
                   "blocks": lambda: sum(a @ w for a, w in blocks)}[dh]()  # fmt: skip
        dWx = {"right": lambda: x.T @ dz, "transposed": lambda: dz.T @ x, "elementwise": lambda: x.T * dz}[dW]()
        db_ = {"sum": lambda: dz.sum(axis=0), "axis1": lambda: dz.sum(axis=1), "all": lambda: dz.sum(),
               "mean": lambda: dz.mean(axis=0), "keepdims": lambda: dz.sum(axis=0, keepdims=True),
               "none": lambda: dz}[db]()  # fmt: skip
        return dx_, dh_prev, dc * f, {"Wx": dWx, "Wh": h_prev.T @ dz, "b": db_}

    return fn


def gru_forward(order=GRU_GATES, acts=None):
    acts = {"r": "sigma", "z": "sigma", "n": "tanh", **(acts or {})}

    def fn(x, h_prev, Wx, Wh, bx, bh):
        H = h_prev.shape[1]
        a, u = x @ Wx + bx, h_prev @ Wh + bh
        A = {gate: a[:, k * H : (k + 1) * H] for k, gate in enumerate(order)}
        U = {gate: u[:, k * H : (k + 1) * H] for k, gate in enumerate(order)}
        r = ACT[acts["r"]](A["r"] + U["r"])
        z = ACT[acts["z"]](A["z"] + U["z"])
        n = ACT[acts["n"]](A["n"] + r * U["n"])
        return (1 - z) * n + z * h_prev, (x, h_prev, Wx, Wh, r, z, n, U["n"])

    return fn


def gru_backward(deriv=None, order_a=GRU_GATES, order_u=GRU_GATES, dh="right", dbx="sum"):
    d = {"r": "right_sigma", "z": "right_sigma", "n": "right_tanh", **(deriv or {})}

    def fn(dh_, cache):
        x, h_prev, Wx, Wh, r, z, n, u_n = cache
        H = h_prev.shape[1]
        da_n = dh_ * (1 - z) * DERIV[d["n"]](n)
        da = {"r": da_n * u_n * DERIV[d["r"]](r), "z": dh_ * (h_prev - n) * DERIV[d["z"]](z), "n": da_n}
        du = {**da, "n": da_n * r}
        da_, du_ = (np.concatenate([v[k] for k in order], axis=1) for v, order in ((da, order_a), (du, order_u)))
        blocks = [(du_[:, k * H : (k + 1) * H], Wh[:, k * H : (k + 1) * H]) for k in range(3)]
        dh_prev = {"right": lambda: du_ @ Wh.T, "reshape": lambda: du_ @ Wh.reshape(3 * H, H),
                   "blocks": lambda: sum(a @ w for a, w in blocks)}[dh]() + dh_ * z  # fmt: skip
        dbx_ = {"sum": lambda: da_.sum(axis=0), "axis1": lambda: da_.sum(axis=1), "mean": lambda: da_.mean(axis=0),
                "keepdims": lambda: da_.sum(axis=0, keepdims=True)}[dbx]()  # fmt: skip
        grads = {"Wx": x.T @ da_, "Wh": h_prev.T @ du_, "bx": dbx_, "bh": du_.sum(axis=0)}
        return da_ @ Wx.T, dh_prev, grads

    return fn


LSTM_FWD_PARTS = ("i", "f", "o", "g", "c", "h")
LSTM_BWD_AFTER_DZ = ("dx", "dh_prev", "dWx", "dWh", "db")
DZ = tuple(f"dz_{g}" for g in LSTM_GATES)


def moved(order, gates):
    return [g for k, g in enumerate(gates) if order[k] != g]


# --------------------------------------------------------------------------- the right steps pass


def test_the_knobless_steps_pass():
    for check, fn in ((exercises.check_lstm_forward, lstm_forward()), (exercises.check_lstm_backward, lstm_backward()),
                      (exercises.check_gru_forward, gru_forward()), (exercises.check_gru_backward, gru_backward())):
        result = check(fn, verbose=False)
        assert result.ok, str(result)


# --------------------------------------------------------------------------- LSTM forward

ORDERS4 = [p for p in itertools.permutations(LSTM_GATES) if p != LSTM_GATES]


@pytest.mark.parametrize("order", ORDERS4, ids=["".join(p) for p in ORDERS4])
def test_lstm_forward_every_gate_order_is_named(order):
    result = exercises.check_lstm_forward(lstm_forward(order=order), verbose=False)
    wrong = moved(order, LSTM_GATES)
    follows = {"c", "h"} if set(wrong) & {"i", "f", "g"} else {"h"}
    assert_blames(result, wrong, follows, [f"{', '.join(wrong)}: wrong", f"in the order {', '.join(order)}"])


NONLINEARITIES = [(g, alt) for g, right in zip("ifogc", ("sigma",) * 3 + ("tanh",) * 2) for alt in ACT if alt != right]


@pytest.mark.parametrize("gate, alt", NONLINEARITIES, ids=[f"{g}-{a}" for g, a in NONLINEARITIES])
def test_lstm_forward_every_nonlinearity_replaced_is_named(gate, alt):
    result = exercises.check_lstm_forward(lstm_forward(acts={gate: alt}), verbose=False)
    if gate == "c":  # h's tanh on c
        assert_blames(result, ["h"], [], ["h: wrong", "h = o * tanh(c)"])
        return
    follows = {"c", "h"} if gate in "ifg" else {"h"}
    said = "is missing its" if alt == "none" else f"went through {alt}"
    assert_blames(result, [gate], follows, [f"{gate}: wrong", said])


# --------------------------------------------------------------------------- LSTM backward

DERIVS = [(g, v) for g in LSTM_GATES for v in (("tanh_deriv", "deriv_of_output_sigma", "no_deriv") if g != "g"
                                                else ("sigmoid_deriv", "deriv_of_output_tanh", "no_deriv"))]  # fmt: skip


@pytest.mark.parametrize("gate, variant", DERIVS, ids=[f"{g}-{v}" for g, v in DERIVS])
def test_lstm_backward_every_derivative_at_the_wrong_point_is_named(gate, variant):
    result = exercises.check_lstm_backward(lstm_backward(deriv={gate: variant}), verbose=False)
    assert_blames(result, [f"dz_{gate}"], LSTM_BWD_AFTER_DZ, [f"dz_{gate}: wrong"])
    assert "not a mistake the checker knows" not in str(result)


@pytest.mark.parametrize("variant", ["sigmoid_deriv", "deriv_of_output_tanh", "no_deriv"])
def test_lstm_backward_the_tanh_derivative_of_c_is_named_on_every_part_it_reaches(variant):
    result = exercises.check_lstm_backward(lstm_backward(dtanh_c=variant), verbose=False)
    assert_blames(result, ["dz_i", "dz_f", "dz_g", "dc_prev"], LSTM_BWD_AFTER_DZ, ["dz_i, dz_f, dz_g, dc_prev: wrong"])
    assert "not a mistake the checker knows" not in str(result)


def test_lstm_backward_the_same_derivative_slip_in_every_sigmoid_gate_is_one_mistake():
    slip = {g: "deriv_of_output_sigma" for g in "ifo"}
    result = exercises.check_lstm_backward(lstm_backward(deriv=slip), verbose=False)
    assert_blames(result, ["dz_i", "dz_f", "dz_o"], LSTM_BWD_AFTER_DZ, ["dz_i, dz_f, dz_o: wrong", "same slip"])


@pytest.mark.parametrize("order", ORDERS4, ids=["".join(p) for p in ORDERS4])
def test_lstm_backward_every_concatenation_order_is_named_as_the_order(order):
    result = exercises.check_lstm_backward(lstm_backward(order=order), verbose=False)
    wrong = [f"dz_{g}" for g in moved(order, LSTM_GATES)]
    assert_blames(result, wrong, LSTM_BWD_AFTER_DZ, [f"dz was put together in the order {', '.join(order)}"])


@pytest.mark.parametrize("how, words", [("reshape", "Wx was reshaped to (4H, D), not transposed")])
def test_lstm_backward_dx_transpose_mistakes(how, words):
    assert_blames(exercises.check_lstm_backward(lstm_backward(dx=how), verbose=False), ["dx"], [], [words])


@pytest.mark.parametrize("how, words", [("reshape", "Wh was reshaped to (4H, H), not transposed"),
                                        ("blocks", "looks like Wh was not transposed")])  # fmt: skip
def test_lstm_backward_dh_prev_transpose_mistakes(how, words):
    assert_blames(exercises.check_lstm_backward(lstm_backward(dh=how), verbose=False), ["dh_prev"], [], [words])


def test_a_missing_transpose_that_never_runs_becomes_a_sentence_with_the_shapes():
    result = exercises.check_lstm_backward(lstm_backward(dx="no_T"), verbose=False)
    text = str(result)
    assert result.status == "error" and "raised ValueError on 7 of 7 inputs" in text
    assert "`dz @ Wx` multiplies a (1, 4) array by a (2, 4) one" in text and "Is a transpose missing (`Wx.T`)?" in text
    assert "size 1 is different" not in text


def test_a_transposed_weight_gradient_is_named():
    result = exercises.check_lstm_backward(lstm_backward(dW="transposed"), verbose=False)
    assert_blames(result, ["dWx"], [], ['grads["Wx"] has shape', "It holds the transpose of dWx"])


REDUCTIONS = [("axis1", "dz.sum(axis=1)"), ("all", "dz.sum()"), ("mean", "dz.mean(axis=0)"),
              ("keepdims", "keepdims=True"), ("none", "not reduced over the batch")]  # fmt: skip


@pytest.mark.parametrize("how, words", REDUCTIONS, ids=[h for h, _ in REDUCTIONS])
def test_lstm_backward_every_reduction_axis_is_named_and_never_called_compared(how, words):
    result = exercises.check_lstm_backward(lstm_backward(db=how), verbose=False)
    assert_blames(result, ["db"], [], [words])
    text = str(result)
    assert "all agree" not in text
    if how != "mean":  # a wrong shape: not compared with central differences, and said so
        assert "db not compared" in text


def test_a_product_that_broadcasts_for_one_row_only_is_named_and_nothing_is_called_right():
    result = exercises.check_lstm_backward(lstm_backward(dW="elementwise"), verbose=False)
    text = str(result)
    assert not result.ok and "right" not in set(result.parts.values()), text
    assert ": right." not in text and "all agree" not in text
    assert "raised ValueError on 3 of 7 inputs (B = 2, 3, 4)" in text
    assert "`x.T * dz` combines a (3, 2) and a (2, 16) array" in text
    assert "Is `*` (element-wise) used where `@` (a matrix product) belongs?" in text
    assert "It ran only for one row (B = 1)" in text


def test_two_independent_mistakes_are_each_named_and_nothing_else_blamed():
    for gate, variant in DERIVS[::3]:
        fn = lstm_backward(deriv={gate: variant}, dh="reshape")
        result = exercises.check_lstm_backward(fn, verbose=False)
        after = set(LSTM_BWD_AFTER_DZ) - {"dh_prev"}
        assert_blames(result, [f"dz_{gate}", "dh_prev"], after, ["Wh was reshaped"])


# --------------------------------------------------------------------------- GRU

ORDERS3 = [p for p in itertools.permutations(GRU_GATES) if p != GRU_GATES]


@pytest.mark.parametrize("order", ORDERS3, ids=["".join(p) for p in ORDERS3])
def test_gru_forward_every_gate_order_is_named(order):
    result = exercises.check_gru_forward(gru_forward(order=order), verbose=False)
    n_moved = order.index("n") != 2
    blamed = [g for g in ("r", "z") if order.index(g) != GRU_GATES.index(g)] + (["u_n", "n"] if n_moved else [])
    follows = {"h"} | ({"n"} if "r" in blamed and not n_moved else set())
    assert_blames(result, blamed, follows, [f"in the order {', '.join(order)}"])


GRU_NONLIN = [(g, alt) for g, right in zip(GRU_GATES, ("sigma", "sigma", "tanh")) for alt in ACT if alt != right]


@pytest.mark.parametrize("gate, alt", GRU_NONLIN, ids=[f"{g}-{a}" for g, a in GRU_NONLIN])
def test_gru_forward_every_nonlinearity_replaced_is_named(gate, alt):
    result = exercises.check_gru_forward(gru_forward(acts={gate: alt}), verbose=False)
    follows = {"n", "h"} if gate == "r" else {"h"}
    said = "is missing its" if alt == "none" else f"went through {alt}"
    assert_blames(result, [gate], follows, [f"{gate}: wrong", said])


GRU_DERIVS = [(g, v) for g in GRU_GATES for v in (("tanh_deriv", "deriv_of_output_sigma", "no_deriv") if g != "n"
                                                   else ("sigmoid_deriv", "deriv_of_output_tanh", "no_deriv"))]  # fmt: skip
_GRU_A_AFTER, _GRU_U_AFTER = ("dx", "dWx", "dbx"), ("dh_prev", "dWh", "dbh")


@pytest.mark.parametrize("gate, variant", GRU_DERIVS, ids=[f"{g}-{v}" for g, v in GRU_DERIVS])
def test_gru_backward_every_derivative_at_the_wrong_point_is_named(gate, variant):
    result = exercises.check_gru_backward(gru_backward(deriv={gate: variant}), verbose=False)
    # da_r and da_z reach both da and du; da_n reaches da_n, and du_n = da_n * r, and through dr also da_r, du_r
    blamed = {"r": ["da_r", "du_r"], "z": ["da_z", "du_z"], "n": ["da_r", "da_n", "du_r", "du_n"]}[gate]
    assert_blames(result, blamed, _GRU_A_AFTER + _GRU_U_AFTER)
    assert "not a mistake the checker knows" not in str(result)


@pytest.mark.parametrize("which", ["a", "u", "both"])
@pytest.mark.parametrize("order", ORDERS3, ids=["".join(p) for p in ORDERS3])
def test_gru_backward_every_concatenation_order_is_named_as_the_order(order, which):
    knobs = {"a": {"order_a": order}, "u": {"order_u": order}, "both": {"order_a": order, "order_u": order}}[which]
    result = exercises.check_gru_backward(gru_backward(**knobs), verbose=False)
    blamed, follows = [], []
    for vec, after in (("a", _GRU_A_AFTER), ("u", _GRU_U_AFTER)):
        if which in (vec, "both"):
            blamed += [f"d{vec}_{g}" for g in moved(order, GRU_GATES)]
            follows += list(after)
    assert_blames(result, blamed, follows, [f"in the order {', '.join(order)}"])


@pytest.mark.parametrize("how, words", [("reshape", "Wh was reshaped to (3H, H)"), ("blocks", "Wh was not transposed")])
def test_gru_backward_dh_prev_transpose_mistakes(how, words):
    assert_blames(exercises.check_gru_backward(gru_backward(dh=how), verbose=False), ["dh_prev"], [], [words])


@pytest.mark.parametrize("how, words", [("axis1", "da.sum(axis=1)"), ("mean", "da.mean(axis=0)"),
                                        ("keepdims", "keepdims=True")])  # fmt: skip
def test_gru_backward_every_reduction_axis_is_named(how, words):
    result = exercises.check_gru_backward(gru_backward(dbx=how), verbose=False)
    assert_blames(result, ["dbx"], [], [words])
    assert "all agree" not in str(result)


# --------------------------------------------------------------------------- what a learner's code may raise


@pytest.mark.parametrize("exc", [SystemExit(1), KeyboardInterrupt(), GeneratorExit()])
def test_an_exit_or_interrupt_of_the_learner_is_reported_not_raised(exc):
    def leaves(*args):
        raise exc

    result = exercises.check_lstm_forward(leaves, verbose=False)
    assert not result.ok and result.status == "error", str(result)
    assert type(exc).__name__ in str(result)
