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


def test_the_heat_map_outlines_the_leads_with_the_signs_behind_the_diagnosis():
    """An anterior acute MI drawn on the product's page: the explanation marks V1-V4 (and the reciprocal
    leads), and the heat map shows them outlined in magenta, nothing outlined where no sign was measured."""
    from inference import layout as L
    from inference.explain import marked_leads
    from inference.heatmap import MARK_RGB, lead_box, overlay_png
    from inference.reading import read_ecg
    from training import synthetic_pathology as sp
    from training.page_render import render_page
    from training.synthetic_paper import as_twelve_lead

    ex = sp.generate("acute_mi_anterior", 11)
    reading = read_ecg(render_page(as_twelve_lead(ex), rhythm_lead=ex.digitized.rhythm_lead, seed=11).image)
    assert reading.ok
    marked = marked_leads("myocardial_infarction", reading.measurements)
    assert len(set(marked) & {"V1", "V2", "V3", "V4"}) >= 2 and set(marked) & {"III", "aVF"}, marked
    assert marked_leads("normal", reading.measurements) == []
    shown = next(n for n in marked if n.startswith("V"))
    unmarked = next(n for n in L.LEADS if n not in marked)
    cams = np.zeros((len(reading.prepared.crops), 4, 4), np.float32)  # no heat: only the outlines show
    image = np.asarray(Image.open(io.BytesIO(overlay_png(reading.prepared, cams, L.PAGE_W, marked=marked))).convert("RGB"))
    magenta = np.all(image == MARK_RGB, axis=-1)
    for name in (shown, unmarked):
        x0, y0, x1, y1 = (int(round(v)) for v in lead_box(name))
        edge = magenta[y0 - 2:y0 + 3, x0 + 20:x1 - 20].any(axis=0).mean()
        assert (edge > 0.9) if name in marked else (edge < 0.1), (name, edge)
