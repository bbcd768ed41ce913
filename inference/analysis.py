"""One image -> the reading, the diagnosis and the heat map, with the work done once.

    a = analyse(image_bytes)
    a.result       # classifier.Result: diagnosis, or a refusal with `reason_code` (never both);
                   #   with `measurements` (dict) and `findings` (list of dicts) when the page was read
    a.heatmap      # PNG of the class-activation map on the rectified page, None when refused
    a.digitized    # signals.Digitized for the export (CSV / re-plot), None when refused

The picture is read first (`inference.reading.read_ecg`: photo -> rectified sheet -> ECG check -> grid
-> signals -> measurements). A refused reading is a refused Result carrying the reading's reason code;
the models never see it. Otherwise the diagnosis comes from the measurement model over what the
digitizer measured and the 1-D ResNet-50 over the signals, combined (`inference.diagnosis`), and the image model (ResNet50 + lead head) gets
`reading.prepared`, cut from the rectified sheet, for the heat map: its class-activation map of the
diagnosed class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from inference import preprocess as P
from inference.classifier import Result, get_classifier, refusal_for, refused, result_from_probs
from inference.explain import marked_leads, reasons
from inference.heatmap import overlay_png


@dataclass
class Analysis:
    result: Result
    heatmap: bytes | None = None
    digitized: Any = None  # inference.signals.Digitized, None when refused
    measurements: Any = None  # inference.measure.Measurements (the object; result.measurements is its dict)
    reading: Any = None  # inference.reading.Reading, for callers that want the rest (sheet, grid)


def finding_dicts(measurements: Any) -> list[dict]:
    from inference.measure import findings

    return [{**asdict(f), "leads": list(f.leads)} for f in findings(measurements)]


def analyse(image: bytes | str, max_width: int = 1000, heatmap: bool = True) -> Analysis:
    """The whole analysis of one picture (bytes or a path). Thread-safe; CPU-bound: run it off the event
    loop. Never raises for a bad picture: that is a refused Result with its reason code."""
    from inference.reading import read_ecg

    return analyse_reading(read_ecg(image), max_width, heatmap)


def analyse_reading(reading: Any, max_width: int = 1000, heatmap: bool = True) -> Analysis:
    """`analyse` for a reading already made (`inference.reading.Reading`); without `heatmap` the image
    model is not run at all."""
    if not reading.ok:
        return Analysis(refused(reading.detail or reading.reason, reading.reason), reading=reading)
    probs = diagnosis_probabilities(reading)
    result = result_from_probs(probs)
    if reading.measurements is not None:
        result.measurements = reading.measurements.to_dict()
        result.findings = finding_dicts(reading.measurements)
        result.reasons = [asdict(r) for r in reasons(result.label, reading.measurements)]
        result.marked_leads = marked_leads(result.label, reading.measurements)
    png = None
    if heatmap:
        _, cams = get_classifier().probabilities_and_cams(reading.prepared.crops, int(np.argmax(probs)))
        png = overlay_png(reading.prepared, cams, max_width, marked=result.marked_leads)
    return Analysis(result, png, reading.digitized, reading.measurements, reading)


def classify(image: bytes | str) -> Result:
    """The diagnosis of one picture, without the heat map (sync, CPU-bound: call it in a worker thread)."""
    return analyse(image, heatmap=False).result


def heatmap_png(image: bytes | str) -> bytes | None:
    """The heat map of one picture's diagnosis (PNG), None when the picture is refused."""
    return analyse(image).heatmap


def diagnosis_probabilities(reading: Any) -> np.ndarray:
    """The diagnosis of a page read: the measurement model over what the digitizer measured and the 1-D
    ResNet-50 over the signals, combined (`inference.diagnosis`; why these and not the image model:
    reports/stacking_cv.md, reports/measure_model.md)."""
    from inference.diagnosis import get_diagnosis
    from inference.features import features

    return get_diagnosis().probabilities(features(reading.digitized, reading.measurements), reading.digitized)


def analyse_prepared(prep: P.Prepared, max_width: int = 1000) -> tuple[Result, bytes | None]:
    """Diagnosis and heat map of a page already prepared, without reading it (no measurements): for
    comparisons and the benchmark; the bot and `ecg-bot predict` use `analyse`."""
    refusal = refusal_for(prep)
    if refusal is not None:
        return refusal, None
    probs, cams = get_classifier().probabilities_and_cams(prep.crops)
    return result_from_probs(probs), overlay_png(prep, cams, max_width)
