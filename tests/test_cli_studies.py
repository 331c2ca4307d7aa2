"""The studies on the command line: ``lstm-np compare`` and ``lstm-np lab`` (and ``lstm-np`` alone, ``--version``)."""

import json

import numpy as np
import pytest

import lstm_np
from lstm_np import studies
from lstm_np.cli import main
from lstm_np.studies import settings

# Tiny settings, so that the commands run end to end in about a second.
TINY = settings.Settings(hidden_size=4, lengths=(4, 6), seeds=(0,), steps=10, batch_size=8, n_test=50, flow_length=6,
                         timing_repeats=1)
TINY_LAB = settings.LabSettings(
    variants=("lstm", "coupled"), seeds=(0,), hidden_size=4, lengths=(6,), steps=8, batch_size=8, n_test=40,
    char_hidden=8, char_embed=4, char_steps=4, char_batch=4, char_seq_len=8, char_chars=4_000, rec_epochs=0,
    timing_repeats=1)


@pytest.fixture
def tiny(monkeypatch):
    """``--quick`` means the tiny settings."""
    monkeypatch.setattr(settings, "QUICK", TINY)
    monkeypatch.setattr(settings, "LAB_QUICK", TINY_LAB)


def test_lstm_np_alone_lists_the_commands_and_version_names_the_release(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("gradcheck", "train", "evaluate", "recommend", "textgen", "compare", "lab"):
        assert f"\n    {command}" in out
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"lstm-np {lstm_np.__version__}\n"


def test_compare_runs_the_study_and_writes_its_files(tiny, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--quick", "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "| T | baseline | RNN | GRU | LSTM |" in captured.out
    assert f"wrote {out}/results.md" in captured.out
    assert "adding problem" in captured.err and "100%" in captured.err  # the progress bar
    saved = json.loads((out / "results.json").read_text())
    assert saved["settings"]["hidden_size"] == TINY.hidden_size
    assert sorted(saved["adding"]) == ["GRU", "LSTM", "RNN"]
    assert (out / "results.md").read_text() in captured.out
    # The same command through the old module name, without the bar, writes the same numbers.
    from lstm_np.experiments import main as old_main

    again = tmp_path / "again"
    assert old_main(["--quick", "--out", str(again), "--workers", "1"]) == 0
    assert json.loads((again / "results.json").read_text())["adding"] == saved["adding"]


def test_lab_runs_the_laboratory_without_a_progress_bar_when_asked(tiny, tmp_path, capsys):
    out = tmp_path / "lab"
    assert main(["lab", "--quick", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "| `lstm` |" in captured.out and "| `coupled` |" in captured.out
    assert f"wrote {out}/lab.md, lab.json, lab.png" in captured.out
    assert "laboratory" not in captured.err
    r = json.loads((out / "lab.json").read_text())
    assert sorted(r["char"]) == ["coupled", "lstm"] and np.isfinite(r["char"]["lstm"]).all()


@pytest.mark.parametrize("command", ["compare", "lab"])
def test_a_bad_output_folder_is_one_line_before_any_training(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(studies, "run", lambda *a, **k: pytest.fail("trained before checking --out"))
    monkeypatch.setattr(studies, "run_lab", lambda *a, **k: pytest.fail("trained before checking --out"))
    afile = tmp_path / "a_file"
    afile.write_text("x")
    assert main([command, "--quick", "--out", str(afile)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out") and "is a file" in err and err.count("\n") == 1
    assert main([command, "--quick", "--out", str(afile / "below")]) == 2
    assert "is a file, so no folder can be made under it" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compare", "lab"])
def test_bad_options_are_refused_by_the_parser(command, capsys):
    for bad in (["--workers", "0"], ["--workers", "two"], ["--quick", "yes"]):
        with pytest.raises(SystemExit) as stop:
            main([command, *bad])
        assert stop.value.code == 2
        assert "error:" in capsys.readouterr().err


def test_an_error_inside_a_study_is_one_line_with_status_2(tmp_path, capsys, monkeypatch):
    def fails(*a, **k):
        raise ValueError("lengths must be >= 2 (two markers); got (1,)")

    monkeypatch.setattr(studies, "run", fails)
    assert main(["compare", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == "error: lengths must be >= 2 (two markers); got (1,)\n"


def test_the_old_module_passes_its_options_on(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_run_lab(out, **kw):
        calls.append((out, kw))
        raise OSError("disk full")

    monkeypatch.setattr(studies, "run_lab", fake_run_lab)
    from lstm_np.experiments import main as old_main

    assert old_main(["--lab", "--quick", "--out", str(tmp_path), "--workers", "3"]) == 2
    assert calls == [(str(tmp_path), {"quick": True, "verbose": True, "workers": 3})]
    assert capsys.readouterr().err == "error: disk full\n"
