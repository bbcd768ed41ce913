"""`inference.analysis.analyse` (what the bot runs): the diagnosis is the shipped combiner's over the
measurement model's and the 1-D ResNet-50's outputs for the reading, `classify` gives the same without the heat map; refusals carry the reading's
reason code."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.analysis import analyse, classify
from inference.labels import LABELS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg-images"


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"ECG images not available at {SHARED}")
def test_diagnosis_from_the_combined_models_and_a_heatmap_of_it():
    from inference.diagnosis import get_diagnosis, log_softmax
    from inference.features import features
    from inference.signal_model import get_signal_model

    for path in sorted(SHARED.rglob("*.jpg"))[::150]:
        data = path.read_bytes()
        expected = classify(data)  # the same path without the heat map
        a = analyse(data)
        result, heatmap = a.result, a.heatmap
        assert a.digitized is not None and result.measurements and result.measurements["heart_rate_bpm"] > 0
        assert result.label == expected.label and result.uncertain == expected.uncertain
        diagnosis = get_diagnosis()
        x = features(a.digitized, a.measurements)
        members = [log_softmax(diagnosis.measure.raw_scores(x)), log_softmax(get_signal_model().logits(a.digitized))[None]]
        probs = diagnosis.combiner.probabilities(members)[0]  # both members count: neither alone gives it
        assert not np.allclose(probs, diagnosis.combiner.probabilities([members[0], members[0]])[0])
        for key, p in zip(LABELS, probs):
            assert result.probabilities[key] == pytest.approx(float(p), abs=1e-9)
            assert expected.probabilities[key] == pytest.approx(float(p), abs=1e-9)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert result.reasons and all(r["key"] for r in result.reasons)
        image = Image.open(io.BytesIO(heatmap))
        assert image.format == "PNG" and image.width > 500


def test_not_an_image_and_not_an_ecg_are_refused_without_a_heatmap():
    a = analyse(b"certainly not an image")
    result, heatmap = a.result, a.heatmap
    assert not result.is_ecg and result.reason and result.reason_code == "not_image" and heatmap is None
    assert a.digitized is None and result.measurements is None and result.label is None
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 120, 200)).save(buffer, "JPEG")
    a = analyse(buffer.getvalue())
    result, heatmap = a.result, a.heatmap
    assert not result.is_ecg and result.label is None and heatmap is None and result.reason_code
