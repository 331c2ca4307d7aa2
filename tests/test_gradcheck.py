import re

import numpy as np
import pytest

import lstm_np.sequence.fused as fused
from lstm_np.cli import main
from lstm_np.gradcheck import TOLERANCE, gradcheck_report, numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    g = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-9)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored exactly


def test_relative_error_definition():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0, 3.0]), np.array([1.0, 2.0])) == pytest.approx(1.0 / 5.0)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_numerical_gradient_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(2, np.float32))


def test_report_covers_every_component_and_passes():
    rows = gradcheck_report(seed=3)
    covered = {(r["component"], r["name"]) for r in rows}
    for name in ("x", "h_prev", "c_prev", "Wx", "Wh", "b"):
        assert ("lstm_cell", name) in covered
    for name in ("x", "h0", "c0", "Wx", "Wh", "b"):
        assert ("lstm_layer", name) in covered
    assert {("embedding", "W"), ("dense", "h"), ("dense", "W"), ("dense", "b"), ("loss", "pred")} <= covered
    assert {("stack", "lstm.Wh"), ("stack", "embedding.W"), ("stack", "head.W")} <= covered
    assert all(r["ok"] and r["error"] <= TOLERANCE for r in rows), rows


def test_check_catches_a_broken_derivative_in_the_fast_layer(monkeypatch):
    """Drop the forget-gate path into dc_prev in the fused kernel: the layer's check must fail loudly,
    and the reference step (which does not use the kernel) must still pass."""
    import lstm_np.sequence.lstm as layer

    original = fused.gates_backward

    def broken(*args, **kwargs):
        dz, dc_prev = original(*args, **kwargs)
        return dz, np.zeros_like(dc_prev)

    monkeypatch.setattr(layer, "gates_backward", broken)
    rows = gradcheck_report(seed=0)
    bad = {(r["component"], r["name"]) for r in rows if not r["ok"]}
    assert ("lstm_layer", "Wh") in bad and ("lstm_layer", "c0") in bad
    assert not any(c == "lstm_cell" for c, _ in bad)
    assert max(r["error"] for r in rows) > 1e-2


def test_check_catches_a_broken_local_derivative(monkeypatch):
    """Forget tanh' in dh/dc (a classic slip): every path through c is wrong."""
    import lstm_np.sequence.lstm as layer

    original = fused.gate_partials

    def broken(act, c_prev, tanh_c, out=None, dh_dc=None):
        p, d = original(act, c_prev, tanh_c, out=out, dh_dc=dh_dc)
        H = c_prev.shape[-1]
        np.copyto(d, act[..., 2 * H : 3 * H])  # dh/dc = o, without (1 - tanh(c)^2)
        return p, d

    monkeypatch.setattr(layer, "gate_partials", broken)
    rows = gradcheck_report(seed=0)
    bad = {(r["component"], r["name"]) for r in rows if not r["ok"]}
    assert {("lstm_layer", "Wx"), ("lstm_layer", "c0")} <= bad


def test_check_catches_a_broken_reference_step(monkeypatch):
    """A reference backward without the forget-gate path: the check names the cell's c_prev."""
    import lstm_np.cells.lstm as cell

    original = cell.step_backward

    def broken(dh, dc_next, cache):
        dx, dh_prev, dc_prev, grads = original(dh, dc_next, cache)
        return dx, dh_prev, np.zeros_like(dc_prev), grads

    monkeypatch.setattr(cell, "step_backward", broken)  # the module the cases call
    rows = gradcheck_report(seed=0)
    bad = {(r["component"], r["name"]) for r in rows if not r["ok"]}
    assert ("lstm_cell", "c_prev") in bad


def test_cli_prints_the_table_and_exits_zero(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^lstm_layer +Wh +4x16 ", out, re.M) and "all passed" in out


def test_cli_exits_nonzero_when_a_check_fails(capsys):
    assert main(["gradcheck", "--tol", "1e-16"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    # The entry point's dispatch and exit status, in a second or two however busy the machine: the full report
    # in a subprocess, under a fixed timeout, took longer with every case added and with the machine's load
    # (test_cli_prints_the_table_and_exits_zero runs the whole report in-process).
    r = subprocess.run([sys.executable, "-m", "lstm_np", "--version"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.startswith("lstm-np "), r.stderr
    r = subprocess.run([sys.executable, "-m", "lstm_np", "gradcheck", "--tol", "-1"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 2 and "--tol must be a finite number > 0; got -1.0" in r.stderr
