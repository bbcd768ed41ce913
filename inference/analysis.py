"""One image -> diagnosis and heat map, with the work done once.

`classify` followed by `heatmap_png` would decode and preprocess the page twice and run the backbone
twice. The bot always needs both, so `analyse` prepares the page once and runs the backbone once: the
lead head turns the pooled maps into page probabilities and the same maps into the heat map.
"""

from __future__ import annotations

from inference import preprocess as P
from inference.classifier import Result, get_classifier, overlay_png, refusal_for, refused, result_from_probs


def analyse(image_bytes: bytes, max_width: int = 1000) -> tuple[Result, bytes | None]:
    """(Result, heat-map PNG) for an ECG page; (refusal, None) for anything else. Thread-safe."""
    try:
        prep = P.prepare(image_bytes)
    except P.NotAnImage:
        return refused("the file is not a readable image"), None
    return analyse_prepared(prep, max_width)


def analyse_prepared(prep: P.Prepared, max_width: int = 1000) -> tuple[Result, bytes | None]:
    """`analyse` for a page already prepared (the command line keeps `prep` for its own use)."""
    refusal = refusal_for(prep)
    if refusal is not None:
        return refusal, None
    probs, cams = get_classifier().probabilities_and_cams(prep.crops)
    return result_from_probs(probs), overlay_png(prep, cams, max_width)
