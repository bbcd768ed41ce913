"""`ecg-bot predict` (inference.cli.predict_main): JSON lines, error lines, exit code, heat maps."""

from __future__ import annotations

import json

import pytest

from inference.cli import predict_main
from inference.labels import LABELS
from inference.model_def import MODEL_FILE
from training import data, negatives, synthetic

pytestmark = pytest.mark.skipif(not MODEL_FILE.exists(), reason=f"shipped model file absent: {MODEL_FILE}")


@pytest.fixture()
def files(tmp_path):
    ecg = tmp_path / "ecg.jpg"
    if data.DEFAULT_DATA.is_dir():
        ecg.write_bytes(data.get_split(data.discover())["test"][1].path.read_bytes())
    else:
        ecg.write_bytes(synthetic.page_bytes(3, 2))
    blank = tmp_path / "blank.jpg"
    import numpy as np

    blank.write_bytes(negatives.to_jpeg(negatives.blank_sheet(np.random.default_rng(0), "blank")))
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    return ecg, blank, bad, tmp_path / "missing.jpg"


def test_json_lines_and_errors(files, capsys, tmp_path):
    ecg, blank, bad, missing = files
    rc = predict_main(["--json", "--heatmap", str(tmp_path / "heat"), str(ecg), str(blank), str(bad), str(missing)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc != 0 and len(lines) == 4
    rows = [json.loads(line) for line in lines]
    assert [r["file"] for r in rows] == [str(ecg), str(blank), str(bad), str(missing)]
    e = rows[0]
    assert set(e) == {"file", "is_ecg", "label", "confidence", "uncertain", "probabilities", "reason", "reason_code"}
    assert e["is_ecg"] is True and e["label"] in LABELS and e["reason"] is None
    assert abs(sum(e["probabilities"].values()) - 1) < 1e-4
    assert rows[1]["is_ecg"] is False and rows[1]["label"] is None and rows[1]["reason"] and rows[1]["reason_code"]
    assert "error" in rows[2] and "error" in rows[3]
    assert (tmp_path / "heat" / "ecg_heatmap.png").exists()
    assert not (tmp_path / "heat" / "blank_heatmap.png").exists()


def test_all_good_files_exit_zero(files, capsys):
    ecg, blank, _, _ = files
    assert predict_main([str(ecg), str(blank)]) == 0
    out = capsys.readouterr().out
    assert "not an ECG" in out and "%" in out
