"""`ecg-bot train`: the whole shipped chain in order, within one budget. The stages themselves run in
their own tests (tests/test_measure_model.py, tests/test_training_pipeline.py's one-epoch run); here
their runners are replaced by recorders and the clock by a fake, to pin the order, the paths and the
budget arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import cli


@pytest.fixture
def chain(monkeypatch, tmp_path):
    calls: list[tuple] = []
    clock = {"now": 1000.0}
    monkeypatch.setattr(cli.time, "time", lambda: clock["now"])

    def measure(out, folds, repeats, workers):
        calls.append(("measure", Path(out), folds, repeats))
        clock["now"] += clock.get("measure_s", 30 * 60)
        return clock.get("measure_rc", 0)

    monkeypatch.setattr(cli, "run_measure", measure)
    monkeypatch.setattr(cli, "run_image", lambda cfg: calls.append(("image", cfg)))
    monkeypatch.setattr(cli, "install_image", lambda run_dir: calls.append(("install_image", Path(run_dir))))
    monkeypatch.setattr(cli, "run_signal", lambda out: calls.append(("signal", Path(out))) or 0)
    monkeypatch.setattr(cli, "run_stack", lambda weights, out_dir, workers: calls.append(("stack", Path(weights), Path(out_dir))) or 0)
    return calls, clock, tmp_path / "run"


def test_all_trains_the_diagnosis_then_the_image_model_with_what_is_left_of_the_budget(chain):
    calls, clock, run = chain
    assert cli.train_main(["--out", str(run), "--budget-minutes", "120"]) == 0
    assert [c[0] for c in calls] == ["measure", "signal", "stack", "image"]
    assert calls[0][1] == run / "measure_model.npz" and calls[0][2:] == (5, 3)
    assert calls[1] == ("signal", run / "resnet1d_synth.weights.h5")
    assert calls[2] == ("stack", run / "resnet1d_synth.weights.h5", run)  # the weights just pre-trained
    cfg = calls[3][1]
    assert cfg.out_dir == str(run)
    assert cfg.max_minutes == pytest.approx(120 - 30 - cli.IMAGE_OVERHEAD_MINUTES)


def test_install_writes_the_shipped_files(chain):
    from inference.measure_model import MODEL_FILE
    from inference.model_def import MODEL_DIR
    from training.resnet1d import DEFAULT_WEIGHTS

    calls, clock, run = chain
    assert cli.train_main(["--out", str(run), "--install"]) == 0
    assert calls[0][1] == MODEL_FILE
    assert calls[1] == ("signal", DEFAULT_WEIGHTS) and calls[2] == ("stack", DEFAULT_WEIGHTS, MODEL_DIR)
    assert calls[-1] == ("install_image", run)


def test_the_image_model_is_skipped_when_the_budget_is_spent(chain, capsys):
    calls, clock, run = chain
    clock["measure_s"] = 100 * 60
    assert cli.train_main(["--out", str(run), "--budget-minutes", "120"]) == 0
    assert [c[0] for c in calls] == ["measure", "signal", "stack"]
    assert "image: skipped" in capsys.readouterr().out


def test_a_failed_measure_stage_stops_the_chain(chain):
    calls, clock, run = chain
    clock["measure_rc"] = 3
    assert cli.train_main(["--out", str(run)]) == 3
    assert [c[0] for c in calls] == ["measure"]


def test_one_stage_alone(chain):
    calls, clock, run = chain
    assert cli.train_main(["--out", str(run), "--stage", "image", "--max-minutes", "5"]) == 0
    assert [c[0] for c in calls] == ["image"] and calls[0][1].max_minutes == 5
    calls.clear()
    assert cli.train_main(["--out", str(run), "--stage", "signal"]) == 0
    assert calls == [("signal", run / "resnet1d_synth.weights.h5")]
    calls.clear()
    assert cli.train_main(["--out", str(run), "--stage", "stack"]) == 0
    assert calls == [("stack", run / "resnet1d_synth.weights.h5", run)]
