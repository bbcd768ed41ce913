"""`ecg-bot predict [--json] [--heatmap DIR] IMAGE...`"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _line(file: str, result=None, error: str | None = None) -> dict:
    if error is not None:
        return {"file": file, "error": error}
    return {
        "file": file,
        "is_ecg": result.is_ecg,
        "label": result.label,
        "confidence": result.confidence,
        "uncertain": result.uncertain,
        "probabilities": result.probabilities,
        "reason": result.reason,
    }


def _human(d: dict) -> str:
    if "error" in d:
        return f"{d['file']}: error: {d['error']}"
    if not d["is_ecg"]:
        return f"{d['file']}: not an ECG ({d['reason']})"
    from inference.labels import DISPLAY_NAMES

    probs = ", ".join(f"{DISPLAY_NAMES[k]} {v:.0%}" for k, v in sorted(d["probabilities"].items(), key=lambda kv: -kv[1]))
    flag = "  [uncertain]" if d["uncertain"] else ""
    return f"{d['file']}: {DISPLAY_NAMES[d['label']]} ({d['confidence']:.0%}){flag}  — {probs}"


def predict_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ecg-bot predict", description="Classify photographed 12-lead ECG pages.")
    ap.add_argument("images", nargs="+", metavar="IMAGE")
    ap.add_argument("--json", action="store_true", help="one JSON object per image per line")
    ap.add_argument("--heatmap", metavar="DIR", help="write a Grad-CAM overlay PNG per classified image here")
    a = ap.parse_args(argv)

    from inference import preprocess as P
    from inference.classifier import get_classifier

    try:
        clf = get_classifier()
    except Exception as exc:  # missing/corrupt model file: one clear line, no traceback
        print(f"error: cannot load the model: {exc}", file=sys.stderr)
        return 2
    heat_dir = Path(a.heatmap) if a.heatmap else None
    if heat_dir:
        heat_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for f in a.images:
        try:
            data = Path(f).read_bytes()
            prep = P.prepare(data)
            if heat_dir:  # probabilities and heat map from one backbone pass
                from inference.analysis import analyse_prepared

                result, png = analyse_prepared(prep)
                if png is not None:
                    (heat_dir / (Path(f).stem + "_heatmap.png")).write_bytes(png)
            else:
                result = clf.classify_prepared(prep)
            d = _line(f, result)
        except P.NotAnImage as exc:
            d, failures = _line(f, error=f"not a readable image ({exc})"), failures + 1
        except OSError as exc:
            d, failures = _line(f, error=f"cannot read file ({exc.strerror or exc})"), failures + 1
        except Exception as exc:  # keep going with the other files; never a traceback
            d, failures = _line(f, error=f"{exc.__class__.__name__}: {exc}"), failures + 1
        print(json.dumps(d) if a.json else _human(d), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(predict_main(sys.argv[1:]))
