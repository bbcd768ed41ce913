"""One image -> the reading, the diagnosis and the heat map, with the work done once.

    a = analyse(image_bytes)
    a.result       # classifier.Result: diagnosis, or a refusal with `reason_code` (never both);
                   #   with `measurements` (dict) and `findings` (list of dicts) when the page was read
    a.heatmap      # PNG of the class-activation map on the rectified page, None when refused
    a.digitized    # signals.Digitized for the export (CSV / re-plot), None when refused

The picture is read first (`inference.reading.read_ecg`: photo -> rectified sheet -> ECG check -> grid
-> signals -> measurements). A refused reading is a refused Result carrying the reading's reason code;
the classifier never sees it. Otherwise the classifier gets `reading.prepared`, cut from the
rectified sheet (so a skewed photo is classified as the flat page it shows), and one backbone pass
gives both the lead-head probabilities and the heat map.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from inference import preprocess as P
from inference.classifier import Result, get_classifier, overlay_png, refusal_for, refused, result_from_probs


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


def analyse(image: bytes | str, max_width: int = 1000) -> Analysis:
    """The whole analysis of one picture (bytes or a path). Thread-safe; CPU-bound: run it off the event
    loop. Never raises for a bad picture: that is a refused Result with its reason code."""
    from inference.reading import read_ecg

    return analyse_reading(read_ecg(image), max_width)


def analyse_reading(reading: Any, max_width: int = 1000) -> Analysis:
    """`analyse` for a reading already made (`inference.reading.Reading`)."""
    if not reading.ok:
        return Analysis(refused(reading.detail or reading.reason, reading.reason), reading=reading)
    probs, cams = get_classifier().probabilities_and_cams(reading.prepared.crops)
    result = result_from_probs(probs)
    if reading.measurements is not None:
        result.measurements = reading.measurements.to_dict()
        result.findings = finding_dicts(reading.measurements)
    return Analysis(result, overlay_png(reading.prepared, cams, max_width), reading.digitized,
                    reading.measurements, reading)


def analyse_prepared(prep: P.Prepared, max_width: int = 1000) -> tuple[Result, bytes | None]:
    """Diagnosis and heat map of a page already prepared, without reading it (no measurements): for
    comparisons and the benchmark; the bot and `ecg-bot predict` use `analyse`."""
    refusal = refusal_for(prep)
    if refusal is not None:
        return refusal, None
    probs, cams = get_classifier().probabilities_and_cams(prep.crops)
    return result_from_probs(probs), overlay_png(prep, cams, max_width)
