"""`ecg-bot predict [--json] [--heatmap DIR] IMAGE...` and `ecg-bot digitize [--json] [--csv DIR] [--plot DIR] IMAGE...`

Both read each picture the way the bot does (`inference.reading.read_ecg`: photo -> rectified sheet ->
ECG check -> signals -> measurements); `predict` then classifies it (`inference.analysis`), `digitize`
only reads it and never imports TensorFlow, so it starts fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

# reading codes that mean "this file is not a picture we can open": predict reports them as errors
FILE_PROBLEMS = {"not_image"}


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
        "reason_code": result.reason_code,
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
    ap.add_argument("--heatmap", metavar="DIR", help="write a class-activation overlay PNG per classified image here")
    a = ap.parse_args(argv)

    from inference.analysis import analyse
    from inference.classifier import get_classifier

    try:
        get_classifier()
    except Exception as exc:  # missing/corrupt model file: one clear line, no traceback
        print(f"error: cannot load the model: {exc}", file=sys.stderr)
        return 2
    heat_dir = Path(a.heatmap) if a.heatmap else None
    if heat_dir:
        heat_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for f in a.images:
        try:
            analysis = analyse(Path(f).read_bytes())  # the bot's path: read the sheet, then classify
            result = analysis.result
            if result.reason_code in FILE_PROBLEMS:
                d, failures = _line(f, error=f"not a readable image ({result.reason})"), failures + 1
            else:
                d = _line(f, result)
                if heat_dir and analysis.heatmap is not None:
                    (heat_dir / (Path(f).stem + "_heatmap.png")).write_bytes(analysis.heatmap)
        except OSError as exc:
            d, failures = _line(f, error=f"cannot read file ({exc.strerror or exc})"), failures + 1
        except Exception as exc:  # keep going with the other files; never a traceback
            d, failures = _line(f, error=f"{exc.__class__.__name__}: {exc}"), failures + 1
        print(json.dumps(d) if a.json else _human(d), flush=True)
    return 1 if failures else 0


# --------------------------------------------------------------------------- digitize
LEAD_KEYS = ("quality", "st_mv", "q_mv", "r_mv", "s_mv", "t_polarity")


def _num(v, digits: int = 1):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return round(float(v), digits)


def digitize_record(file: str, reading=None, error: tuple[str, str] | None = None) -> dict:
    """The JSON object of one picture for `ecg-bot digitize --json`."""
    from inference import layout as L

    d: dict = {"file": file, "ok": False, "reason": None}
    if error is not None or not reading.ok:
        code, detail = error if error is not None else (reading.reason, reading.detail)
        d["reason"] = {"code": code, "detail": detail or code}
    else:
        d["ok"] = True
    m = reading.measurements if reading is not None and reading.ok else None
    g = m.to_dict() if m is not None else {}
    d.update({
        "heart_rate_bpm": _num(g.get("heart_rate_bpm")),
        "rhythm_regular": g.get("rhythm_regular"),
        "irregularly_irregular": g.get("irregularly_irregular"),
        "pr_ms": _num(g.get("pr_ms")),
        "qrs_ms": _num(g.get("qrs_ms")),
        "qt_ms": _num(g.get("qt_ms")),
        "qtc_ms": _num(g.get("qtc_bazett_ms")),
        "axis_deg": _num(g.get("axis_deg")),
        "rhythm_lead": reading.digitized.rhythm_lead if reading is not None and reading.digitized is not None else None,
        "traced_leads": list(reading.digitized.traced_leads) if reading is not None and reading.digitized is not None else [],
        "leads": {},
        "findings": [],
    })
    if m is not None:
        from inference.analysis import finding_dicts

        for name in L.LEADS:
            lm = g["leads"].get(name) or {"quality": "untraced"}
            d["leads"][name] = {k: (_num(lm.get(k), 3) if k.endswith("_mv") else lm.get(k)) for k in LEAD_KEYS}
        d["findings"] = finding_dicts(m)
    return d


def _digitize_human(d: dict) -> str:
    if not d["ok"]:
        return f"{d['file']}: not read — {d['reason']['code']}: {d['reason']['detail']}"
    parts = []
    if d["heart_rate_bpm"] is not None:
        rhythm = ("irregularly irregular" if d["irregularly_irregular"] else
                  "regular" if d["rhythm_regular"] else "irregular" if d["rhythm_regular"] is False else None)
        parts.append(f"{d['heart_rate_bpm']:.0f} bpm" + (f" {rhythm}" if rhythm else ""))
    for key, name in (("pr_ms", "PR"), ("qrs_ms", "QRS"), ("qt_ms", "QT"), ("qtc_ms", "QTc")):
        if d[key] is not None:
            parts.append(f"{name} {d[key]:.0f} ms")
    if d["axis_deg"] is not None:
        parts.append(f"axis {d['axis_deg']:+.0f}°")
    parts.append(f"{len(d['traced_leads'])}/12 leads traced, rhythm strip {d['rhythm_lead'] or 'lead not read'}")
    for f in d["findings"]:
        parts.append(f"{f['kind'].replace('_', ' ')} {f['territory']} ({', '.join(f['leads'])}) {f['max_mm']:.1f} mm")
    return f"{d['file']}: " + "; ".join(parts)


def digitize_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ecg-bot digitize",
                                 description="Read the signals and measurements off photographed 12-lead ECG pages.")
    ap.add_argument("images", nargs="+", metavar="IMAGE")
    ap.add_argument("--json", action="store_true", help="one JSON object per image per line")
    ap.add_argument("--csv", metavar="DIR", help="write DIR/<image name>.csv (500 Hz, mV) per read image")
    ap.add_argument("--plot", metavar="DIR", help="write DIR/<image name>.png, the re-plotted 12-lead, per read image")
    a = ap.parse_args(argv)

    from inference import export
    from inference.reading import read_ecg

    out_dirs = {}
    for key in ("csv", "plot"):
        if getattr(a, key):
            out_dirs[key] = Path(getattr(a, key))
            out_dirs[key].mkdir(parents=True, exist_ok=True)
    failures = 0
    for f in a.images:
        try:
            reading = read_ecg(Path(f).read_bytes())
            d = digitize_record(f, reading)
            if reading.ok:
                stem = Path(f).stem
                if "csv" in out_dirs:
                    (out_dirs["csv"] / f"{stem}.csv").write_text(export.to_csv(reading.digitized))
                if "plot" in out_dirs:
                    (out_dirs["plot"] / f"{stem}.png").write_bytes(export.plot_png(reading.digitized, reading.measurements))
        except OSError as exc:
            d = digitize_record(f, error=("cannot_read", f"cannot read the file ({exc.strerror or exc})"))
        except Exception as exc:  # keep going with the other files; never a traceback
            d = digitize_record(f, error=("error", f"{exc.__class__.__name__}: {exc}"))
        failures += not d["ok"]
        print(json.dumps(d) if a.json else _digitize_human(d), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(predict_main(sys.argv[1:]))
