"""The exercise checker names what is wrong, and the exercise notebook runs in both versions.

Each mistake below is written the way a learner would write it: a whole step,
correct except for one line (per gate, where that is how the slip happens).
The checker must name the wrong part and the mistake in words, say which parts
are right, pass the reference and any correct rewrite of it, and turn a stub
into a friendly "not implemented yet" without raising.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from lstm_np import exercises
from lstm_np.cells import gru as gru_cell
from lstm_np.cells import lstm as lstm_cell
from lstm_np.cells.lstm import sigmoid

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "08_exercises.ipynb"


def line_about(result, part):
    """The report line that starts with ``part``'s verdict (e.g. "dz_o: wrong ...")."""
    lines = [s.strip() for s in result.messages[1:] for s in s.split("\n")]
    hits = [s for s in lines if s.startswith(part)]
    assert hits, f"no line about {part!r} in:\n{result}"
    return hits[0]


def right_parts(result):
    lines = [s.strip() for s in "\n".join(result.messages).split("\n")]
    right = [s for s in lines if s.endswith(": right.")]
    return set(right[0][: -len(": right.")].split(", ")) if right else set()


# --------------------------------------------------------------------------- learner-style LSTM steps


def learner_lstm_forward(x, h_prev, c_prev, Wx, Wh, b, mistake=None):
    H = h_prev.shape[1]
    z = x @ Wx + h_prev @ Wh + b
    i = sigmoid(z[:, :H])
    f = sigmoid(z[:, H : 2 * H])
    if mistake == "pytorch_order":  # i, f, g, o
        g, o = np.tanh(z[:, 2 * H : 3 * H]), sigmoid(z[:, 3 * H :])
    else:
        o, g = sigmoid(z[:, 2 * H : 3 * H]), np.tanh(z[:, 3 * H :])
    if mistake == "g_sigmoid":
        g = sigmoid(z[:, 3 * H :])
    c = i * g if mistake == "no_forget" else f * c_prev + i * g
    h = o * c if mistake == "no_tanh" else o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, o, g, c)


def learner_lstm_backward(dh, dc_next, cache, mistake=None):
    """Gate by gate, as a learner might write it."""
    x, h_prev, c_prev, Wx, Wh, i, f, o, g, c = cache
    H = h_prev.shape[1]
    tanh_c = np.tanh(c)
    if mistake == "in_place":
        dc_next += dh * o * (1 - tanh_c**2)
        dc = dc_next
    elif mistake == "no_dc_next":
        dc = dh * o * (1 - tanh_c**2)
    else:
        dc = dc_next + dh * o * (1 - tanh_c**2)
    do = dh if mistake in ("no_tanh_in_do", "two") else dh * tanh_c
    dc_prev = dc if mistake in ("dropped_forget", "two") else dc * f
    df = dc * (c if mistake == "c_for_c_prev" else c_prev)
    dz_i = dc * g * i * (1 - i)
    dz_f = df * f * (1 - f)
    dz_o = do * o * (1 - o)
    dz_g = dc * i * (g * (1 - g) if mistake == "sigmoid_deriv_on_g" else 1 - g**2)
    dz = np.concatenate([dz_i, dz_f, dz_o, dz_g], axis=1)
    Wh_i, Wh_f, Wh_o, Wh_g = (Wh[:, k * H : (k + 1) * H] for k in range(4))
    if mistake == "Wh_not_transposed":  # each block is (H, H), so this runs
        dh_prev = dz_i @ Wh_i + dz_f @ Wh_f + dz_o @ Wh_o + dz_g @ Wh_g
    elif mistake == "Wh_reshaped":  # (H, 4H) -> (4H, H) by reshape instead of .T
        dh_prev = dz @ Wh.reshape(4 * H, H)
    elif mistake == "Wx_for_Wh":
        dh_prev = dz @ Wx.T
    else:
        dh_prev = dz_i @ Wh_i.T + dz_f @ Wh_f.T + dz_o @ Wh_o.T + dz_g @ Wh_g.T
    dx = dz @ Wx.T
    db = dz.mean(axis=0) if mistake == "db_mean" else dz.sum(axis=0)
    return dx, dh_prev, dc_prev, {"Wx": x.T @ dz, "Wh": h_prev.T @ dz, "b": db}


def with_mistake(fn, mistake):
    def wrong(*args):
        return fn(*args, mistake=mistake)

    return wrong


# --------------------------------------------------------------------------- learner-style GRU steps


def learner_gru_forward(x, h_prev, Wx, Wh, bx, bh, mistake=None):
    H = h_prev.shape[1]
    a = x @ Wx + bx
    u = h_prev @ Wh + bh
    r = sigmoid(a[:, :H] + u[:, :H])
    z = sigmoid(a[:, H : 2 * H] + u[:, H : 2 * H])
    u_n = u[:, 2 * H :]
    if mistake == "reset_before_product":  # Cho et al.'s form
        n = np.tanh(a[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :] + bh[2 * H :])
    else:
        n = np.tanh(a[:, 2 * H :] + r * u_n)
    h = z * n + (1 - z) * h_prev if mistake == "z_swapped" else (1 - z) * n + z * h_prev
    return h, (x, h_prev, Wx, Wh, r, z, n, u_n)


def learner_gru_backward(dh, cache, mistake=None):
    x, h_prev, Wx, Wh, r, z, n, u_n = cache
    dn = dh * (1 - z)
    dz = dh * (n - h_prev) if mistake == "dz_sign" else dh * (h_prev - n)
    da_n = dn * (1 - n**2)
    dr = da_n * u_n
    du_n = da_n if mistake == "du_n_no_r" else da_n * r
    da_r = dr * r * (1 - r)
    da_z = dz * z * (1 - z)
    da = np.concatenate([da_r, da_z, da_n], axis=1)
    du = np.concatenate([da_r, da_z, du_n], axis=1)
    dh_prev = du @ Wh.T
    if mistake != "no_skip":
        dh_prev = dh_prev + dh * z
    grads = {"Wx": x.T @ da, "Wh": h_prev.T @ du, "bx": da.sum(axis=0), "bh": du.sum(axis=0)}
    return da @ Wx.T, dh_prev, grads


# --------------------------------------------------------------------------- right answers pass


@pytest.mark.parametrize(
    "check, fn",
    [
        (exercises.check_lstm_forward, lstm_cell.step_forward),
        (exercises.check_lstm_backward, lstm_cell.step_backward),
        (exercises.check_gru_forward, gru_cell.step_forward),
        (exercises.check_gru_backward, gru_cell.step_backward),
        (exercises.check_lstm_forward, learner_lstm_forward),
        (exercises.check_lstm_backward, learner_lstm_backward),
        (exercises.check_gru_forward, learner_gru_forward),
        (exercises.check_gru_backward, learner_gru_backward),
    ],
)
def test_a_right_step_passes(check, fn, capsys):
    result = check(fn)
    assert result.ok and result.status == "passed", str(result)
    assert "PASSED" in capsys.readouterr().out
    assert set(result.parts.values()) == {"right"}


def test_passing_backward_is_also_compared_with_central_differences():
    result = exercises.check_lstm_backward(lstm_cell.step_backward, verbose=False)
    assert "central differences" in str(result) and "all agree" in str(result)


# --------------------------------------------------------------------------- unfinished and broken functions


def _stub(*args):
    raise NotImplementedError("your code here")


def _empty(*args):
    """A stub whose body is only a docstring: returns None."""


@pytest.mark.parametrize(
    "check",
    [
        exercises.check_lstm_forward,
        exercises.check_lstm_backward,
        exercises.check_gru_forward,
        exercises.check_gru_backward,
    ],
)
@pytest.mark.parametrize("stub", [_stub, _empty])
def test_a_stub_is_not_implemented_yet_and_raises_nothing(check, stub, capsys):
    result = check(stub)
    assert not result.ok and result.status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out


def test_a_wrong_return_structure_names_what_was_expected():
    def three(dh, dc_next, cache):
        return lstm_cell.step_backward(dh, dc_next, cache)[:3]

    result = exercises.check_lstm_backward(three, verbose=False)
    assert result.status == "error"
    assert "returned a tuple of 3; expected 4: dx, dh_prev, dc_prev, grads" in str(result)


def test_a_wrong_shape_names_the_output_and_the_expected_shape():
    def dh_prev_is_dz(dh, dc_next, cache):
        dx, _, dc_prev, grads = lstm_cell.step_backward(dh, dc_next, cache)
        return dx, np.tile(grads["b"], (dh.shape[0], 1)), dc_prev, grads  # (B, 4H)

    result = exercises.check_lstm_backward(dh_prev_is_dz, verbose=False)
    assert not result.ok
    assert "dh_prev has shape (1, 4); expected (B, H) = (1, 1)" in line_about(result, "dh_prev has")
    assert result.parts["dh_prev"] == "unread" and result.parts["dx"] == "right"


def test_a_wrong_shape_on_some_inputs_only_does_not_pass():
    def squeezed_for_one_row(*args):
        h, c, cache = lstm_cell.step_forward(*args)
        return (h[0] if h.shape[0] == 1 else h), c, cache  # (H,) when B = 1

    result = exercises.check_lstm_forward(squeezed_for_one_row, verbose=False)
    assert not result.ok and result.parts["h"] == "unread"
    assert "h has shape (1,); expected (B, H) = (1, 1)" in str(result)


def test_float32_output_is_named():
    def f32(*args):
        h, c, cache = lstm_cell.step_forward(*args)
        return h.astype(np.float32), c, cache

    result = exercises.check_lstm_forward(f32, verbose=False)
    assert "h has dtype float32; expected float64" in line_about(result, "h has")


def test_an_exception_is_named_with_the_line_that_raised():
    def broken(dh, cache):
        x, h_prev, Wx, Wh, r, z, n, u_n = cache
        return {"dx": x}["dh"]  # KeyError

    result = exercises.check_gru_backward(broken, verbose=False)
    assert result.status == "error" and not result.ok
    text = str(result)
    assert "raised KeyError on 7 of 7 inputs" in text
    assert 'return {"dx": x}["dh"]' in text and "in broken" in text


def test_changing_an_input_in_place_is_named():
    result = exercises.check_lstm_backward(with_mistake(learner_lstm_backward, "in_place"), verbose=False)
    assert not result.ok
    assert "changed its input dc_next in place" in str(result)


def test_not_a_function():
    result = exercises.check_gru_forward(np.zeros(3), verbose=False)
    assert result.status == "error" and "expected your function" in str(result)


# --------------------------------------------------------------------------- the LSTM backward mistakes, named


def _lstm_backward(mistake):
    return exercises.check_lstm_backward(with_mistake(learner_lstm_backward, mistake), verbose=False)


def test_dropped_forget_gate_path_in_dc_prev():
    result = _lstm_backward("dropped_forget")
    assert not result.ok and result.status == "wrong"
    line = line_about(result, "dc_prev")
    assert line.startswith("dc_prev: wrong") and "forget-gate path" in line and "dc * f" in line
    assert {"dz_i", "dz_f", "dz_o", "dz_g", "dx", "dh_prev", "dWx", "dWh", "db"} <= right_parts(result)


def test_tanh_c_missing_from_dz_o():
    result = _lstm_backward("no_tanh_in_do")
    line = line_about(result, "dz_o")
    assert line.startswith("dz_o: wrong") and "tanh(c) is missing from dz_o" in line
    assert {"dz_i", "dz_f", "dz_g", "dc_prev"} <= right_parts(result)
    # dx, dh_prev, ... are right for the learner's dz: said so, not blamed
    follows = line_about(result, "dx")
    assert follows.startswith("dx, dh_prev, dWx, dWh, db: wrong only because dz is wrong (each is right for your dz)")
    assert result.parts["dz_o"] == "wrong" and result.parts["dh_prev"] == "follows"


def test_untransposed_Wh_blocks_in_dh_prev():
    result = _lstm_backward("Wh_not_transposed")
    line = line_about(result, "dh_prev")
    assert line.startswith("dh_prev: wrong") and "Wh was not transposed" in line
    assert {"dz_i", "dz_f", "dz_o", "dz_g", "dc_prev", "dx", "dWx", "dWh"} <= right_parts(result)


def test_Wh_reshaped_instead_of_transposed():
    line = line_about(_lstm_backward("Wh_reshaped"), "dh_prev")
    assert line.startswith("dh_prev: wrong") and "reshaped to (4H, H), not transposed" in line


def test_Wx_where_Wh_belongs_is_named_from_the_square_input():
    result = _lstm_backward("Wx_for_Wh")
    assert "dh_prev has shape (1, 2); expected (B, H) = (1, 1)" in str(result)  # where D != H
    line = line_about(result, "dh_prev: wrong")
    assert line.startswith("dh_prev: wrong") and "used Wx where Wh belongs" in line


def test_sigmoid_derivative_applied_to_g():
    result = _lstm_backward("sigmoid_deriv_on_g")
    line = line_about(result, "dz_g")
    assert line.startswith("dz_g: wrong") and "sigmoid derivative g * (1 - g) was applied to g" in line
    assert "1 - g^2" in line
    assert {"dz_i", "dz_f", "dz_o", "dc_prev"} <= right_parts(result)


def test_missing_dc_next():
    result = _lstm_backward("no_dc_next")
    line = line_about(result, "dz_i")
    assert line.startswith("dz_i, dz_f, dz_g, dc_prev: wrong") and "dc_next" in line
    assert "dz_o" in right_parts(result)


def test_c_where_c_prev_belongs():
    line = line_about(_lstm_backward("c_for_c_prev"), "dz_f")
    assert line.startswith("dz_f: wrong") and "c_prev" in line and "one step off" in line


def test_db_as_a_mean_is_caught_only_by_batches_and_named():
    result = _lstm_backward("db_mean")
    assert {"dz_i", "dz_f", "dz_o", "dz_g"} <= right_parts(result)  # B = 1: mean == sum
    assert "dz.mean(axis=0) is the mean over the batch" in line_about(result, "db")


def test_two_mistakes_are_each_named_on_their_own_part():
    result = _lstm_backward("two")
    assert "tanh(c) is missing from dz_o" in line_about(result, "dz_o")
    assert "forget-gate path" in line_about(result, "dc_prev")


def test_an_unknown_mistake_gives_the_expected_formula():
    def weird(dh, dc_next, cache):
        dx, dh_prev, dc_prev, grads = lstm_cell.step_backward(dh, dc_next, cache)
        return dx, dh_prev, 1.5 * dc_prev, grads

    line = line_about(exercises.check_lstm_backward(weird, verbose=False), "dc_prev")
    assert "not a mistake the checker knows" in line and "Expected: dc_prev = dc * f" in line


def test_the_fixed_input_shows_expected_and_got_numbers():
    text = str(_lstm_backward("dropped_forget"))
    assert 'On the small fixed input (lstm_np.exercises.fixed_inputs("lstm_backward")):' in text
    assert "dc_prev: expected" in text


# --------------------------------------------------------------------------- the LSTM forward and GRU mistakes


@pytest.mark.parametrize(
    "mistake, part, words",
    [
        ("no_forget", "c", "c is missing the forget path f * c_prev"),
        ("no_tanh", "h", "h is missing the tanh on c"),
        ("pytorch_order", "o, g", "in the order i, f, g, o"),
        ("g_sigmoid", "g", "g went through sigma"),
    ],
)
def test_lstm_forward_mistakes_are_named(mistake, part, words):
    result = exercises.check_lstm_forward(with_mistake(learner_lstm_forward, mistake), verbose=False)
    line = line_about(result, f"{part}: wrong")
    assert words in line, str(result)


def test_lstm_forward_h_follows_from_a_wrong_c():
    result = exercises.check_lstm_forward(with_mistake(learner_lstm_forward, "no_forget"), verbose=False)
    assert line_about(result, "h").startswith("h: wrong only because c is wrong")
    assert {"i", "f", "o", "g", "cache"} <= right_parts(result)


def test_gates_stored_in_the_wrong_cache_order_are_named():
    def swapped(*args):
        h, c, (x, h_prev, c_prev, Wx, Wh, i, f, o, g, c) = lstm_cell.step_forward(*args)
        return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, g, o, c)

    result = exercises.check_lstm_forward(swapped, verbose=False)
    assert "the cache holds g in the place of o" in line_about(result, "o: wrong")
    assert "the cache holds o in the place of g" in line_about(result, "g: wrong")
    assert {"i", "f", "c", "h"} <= right_parts(result)


@pytest.mark.parametrize(
    "mistake, part, words",
    [
        ("reset_before_product", "n", "reset gate was applied to h_prev before the product"),
        ("z_swapped", "h", "z and 1 - z are swapped"),
    ],
)
def test_gru_forward_mistakes_are_named(mistake, part, words):
    result = exercises.check_gru_forward(with_mistake(learner_gru_forward, mistake), verbose=False)
    assert words in line_about(result, f"{part}: wrong"), str(result)


@pytest.mark.parametrize(
    "mistake, part, words, right",
    [
        ("dz_sign", "da_z, du_z: wrong", "the sign of dz is flipped", {"da_r", "da_n", "du_r", "du_n"}),
        ("no_skip", "dh_prev", "missing the direct path dh * z", {"da_r", "da_z", "da_n", "du_n", "dx", "dWh"}),
        ("du_n_no_r", "du_n", "missing the factor r", {"da_r", "da_z", "da_n", "dx", "dWx"}),
    ],
)
def test_gru_backward_mistakes_are_named(mistake, part, words, right):
    result = exercises.check_gru_backward(with_mistake(learner_gru_backward, mistake), verbose=False)
    assert words in line_about(result, part), str(result)
    assert right <= right_parts(result), str(result)


# --------------------------------------------------------------------------- the notebook and its stub version


def _notebook():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


def test_make_stubs_replaces_each_solution_body_and_keeps_the_signature():
    nb = _notebook()
    solutions = [c for c in nb["cells"] if exercises.SOLUTION_TAG in c["metadata"].get("tags", [])]
    assert len(solutions) == 6  # four steps, and the sequence forward and backward of exercise 5
    stubbed = exercises.make_stubs(nb)
    stubs = [c for c in stubbed["cells"] if "exercise" in c["metadata"].get("tags", [])]
    assert len(stubs) == 6
    for before, after in zip(solutions, stubs):
        src = "".join(before["source"])
        head = src.split(exercises.SOLUTION_MARKER)[0]
        assert after["source"].startswith(head)  # the def line and the docstring stay
        assert after["source"].rstrip().endswith('raise NotImplementedError("your code here")')
        assert exercises.SOLUTION_MARKER not in after["source"]
    assert all(not c.get("outputs") for c in stubbed["cells"] if c["cell_type"] == "code")
    assert nb == _notebook()  # the input is not modified


def test_make_stubs_refuses_a_solution_without_its_marker():
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": "x = 1", "outputs": []}]}
    with pytest.raises(ValueError, match="has 0 '# SOLUTION' lines"):
        exercises.make_stubs(nb)


def test_stub_command_writes_the_stub_notebook(tmp_path, capsys):
    dst = tmp_path / "mine.ipynb"
    assert exercises.main(["--stubs", str(NOTEBOOK), str(dst)]) == 0
    assert json.loads(dst.read_text(encoding="utf-8")) == exercises.make_stubs(_notebook())
    with pytest.raises(SystemExit):
        exercises.main(["--stubs", str(NOTEBOOK), str(NOTEBOOK)])  # never overwrite the solutions


@pytest.mark.parametrize("content", ["[]", "{}", '{"cells": 3}', "not json", ""])
def test_stub_command_on_a_file_that_is_not_a_notebook_is_one_line_and_writes_nothing(tmp_path, capsys, content):
    src, dst = tmp_path / "bad.ipynb", tmp_path / "mine.ipynb"
    src.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        exercises.main(["--stubs", str(src), str(dst)])
    assert exc.value.code == 2 and not dst.exists()
    err = capsys.readouterr().err
    assert "is not a notebook" in err or "not a notebook" in err
    assert "Traceback" not in err


def test_hint_prints_only_the_hint_asked_for(capsys):
    exercises.hint("lstm_backward", 1)
    first = capsys.readouterr().out
    assert first.startswith("Hint 1 of 4 for lstm_backward (hint 2 says more)") and "dc_next +" not in first
    exercises.hint("lstm_backward", 4)
    assert "dc      = dc_next + dh * o * (1 - tanh(c)^2)" in capsys.readouterr().out
    for bad in (0, 5, 1.0, True):
        with pytest.raises(ValueError, match="level must be an int from 1 to 4"):
            exercises.hint("lstm_backward", bad)
    with pytest.raises(ValueError, match="exercise must be one of"):
        exercises.hint("lstm", 1)


# --------------------------------------------------------------------------- exercise 5: BPTT with your step


def _sequence_forward(x, h0, c0, Wx, Wh, b):
    h, c, caches, outs = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c, cache = lstm_cell.step_forward(x[:, t], h, c, Wx, Wh, b)
        caches.append(cache)
        outs.append(h)
    return np.stack(outs, axis=1), (h, c), caches


def _sequence_backward(slip=None):
    def backward(dout, caches, dh_T, dc_T):
        T = dout.shape[1]
        dh, dc, dxs, grads = dh_T, dc_T, [None] * T, None
        for t in reversed(range(T)):
            dh_t = dout[:, t] if slip == "h_not_carried" else dout[:, t] + dh
            dxs[t], dh, dc, g = lstm_cell.step_backward(dh_t, dc, caches[t])
            grads = g if grads is None or slip == "overwritten" else {k: grads[k] + g[k] for k in g}
        return np.stack(dxs, axis=1), dh, dc, grads

    return backward


def test_sequence_check_passes_a_right_bptt_and_names_the_usual_slips():
    assert exercises.check_lstm_sequence(_sequence_forward, _sequence_backward(), verbose=False).ok
    result = exercises.check_lstm_sequence(_sequence_forward, _sequence_backward("h_not_carried"), verbose=False)
    assert "dx, dh0, dc0, dWx, dWh, db: wrong" in str(result) and "what comes back from step t + 1" in str(result)
    assert {k for k, v in result.parts.items() if v == "right"} == {"out", "h_T", "c_T"}
    result = exercises.check_lstm_sequence(_sequence_forward, _sequence_backward("overwritten"), verbose=False)
    assert "dWx, dWh, db: wrong" in str(result) and "their gradients add over t" in str(result)
    assert {k for k, v in result.parts.items() if v == "right"} == {"out", "h_T", "c_T", "dx", "dh0", "dc0"}


def test_committed_notebook_shows_every_check_passing():
    outputs = [
        "".join(o.get("text", ""))
        for c in _notebook()["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
    ]
    for name in ("check_lstm_forward", "check_lstm_backward", "check_gru_forward", "check_gru_backward",
                 "check_lstm_sequence"):
        assert any(name in t and "PASSED" in t for t in outputs), f"{name} does not pass in the committed notebook"
    assert any("test MSE" in t for t in outputs), "the learner's LSTM was not trained on the adding problem"


def test_the_notebook_gives_no_backward_line_away_unless_asked():
    """Outside the solution cells, no cell holds a line of the backward steps; the hints are commented out."""
    nb = exercises.make_stubs(_notebook())
    text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"])
    for line in ("dc_next + dh * o", "dc * f", "dz @ Wx.T", "dz Wx^T", "dh * (h_prev - n)", "da_n * r", "du Wh^T"):
        assert line not in text, f"the stub notebook gives away {line!r}"
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    hint_calls = [s for s in code.split("\n") if "exercises.hint(" in s]
    assert hint_calls and all(s.lstrip().startswith("#") for s in hint_calls)


def test_stub_notebook_runs_to_not_implemented_yet(monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the notebook runner is in the dev extras")
    nbclient = pytest.importorskip("nbclient", reason="the notebook runner is in the dev extras")
    pytest.importorskip("ipykernel", reason="the notebook runner is in the dev extras")
    monkeypatch.setenv("LSTM_NP_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.from_dict(exercises.make_stubs(nbformat.read(NOTEBOOK, as_version=4)))
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError if any cell raises
    text = "\n".join(
        "".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    for name in ("check_lstm_forward", "check_lstm_backward", "check_gru_forward", "check_gru_backward",
                 "check_lstm_sequence"):
        assert f"{name}: not implemented yet" in text
    assert "PASSED" not in text and "Finish the exercises above first" in text
