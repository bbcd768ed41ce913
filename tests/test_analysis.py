"""`inference.analysis.analyse` (what the bot runs) agrees with `classify` + `heatmap_png`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

import inference
from inference.analysis import analyse

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg-images"


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"ECG images not available at {SHARED}")
def test_same_probabilities_as_classify_and_a_heatmap():
    for path in sorted(SHARED.rglob("*.jpg"))[::150]:
        data = path.read_bytes()
        expected = inference.classify(data)
        result, heatmap = analyse(data)
        assert result.label == expected.label and result.uncertain == expected.uncertain
        for key, p in expected.probabilities.items():
            assert result.probabilities[key] == pytest.approx(p, abs=1e-5)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        image = Image.open(io.BytesIO(heatmap))
        assert image.format == "PNG" and image.width > 500


def test_not_an_image_and_not_an_ecg_are_refused_without_a_heatmap():
    result, heatmap = analyse(b"certainly not an image")
    assert not result.is_ecg and result.reason and heatmap is None
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 120, 200)).save(buffer, "JPEG")
    result, heatmap = analyse(buffer.getvalue())
    assert not result.is_ecg and result.label is None and heatmap is None
