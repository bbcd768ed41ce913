"""The digitized ECG out of the bot: CSV for spreadsheets, a clean re-plotted 12-lead PNG, and compact
npz bytes for storage.

    text = to_csv(d)                 # t_s,I,...,V6,rhythm: 5000 rows at 500 Hz, mV, empty = not traced
    png = plot_png(d, measurements)  # 3 x 4 + the rhythm strip on a pink 1 mm / 5 mm grid
    blob = to_npz_bytes(d); d2 = from_npz_bytes(blob)   # float16, ~20-40 kB

Each lead of the 3 x 4 block has its own 2.5 s window on the printout's 10 s axis (lead I 0-2.5 s,
aVR 2.5-5 s, ...): in the CSV a lead's column holds values only inside its window, the `rhythm`
column covers all 10 s. Nothing is filled in: a sample that was not traced is an empty cell, a lead
that could not be traced is empty throughout and plotted as "not traced".
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import cv2
import numpy as np

from inference import layout as L
from inference.signals import Digitized, LeadSignal

CSV_COLUMNS = ("t_s",) + L.LEADS + ("rhythm",)
NPZ_VERSION = 1


# --------------------------------------------------------------------------- CSV
def _columns(d: Digitized) -> np.ndarray:
    """(n, 13) float array on the 10 s axis: the 12 leads in their windows, then the rhythm strip."""
    fs = int(d.fs)
    n = int(round(L.DURATION_S * fs))
    out = np.full((n, len(L.LEADS) + 1), np.nan, np.float64)
    for j, name in enumerate(L.LEADS):
        lead = d.leads.get(name)
        if lead is None or not lead.ok:
            continue
        i0 = int(round(lead.start_s * fs))
        seg = np.asarray(lead.signal, np.float64)[: max(0, n - i0)]
        out[i0:i0 + len(seg), j] = seg
    if d.rhythm is not None and d.rhythm.ok:
        seg = np.asarray(d.rhythm.signal, np.float64)[:n]
        out[: len(seg), -1] = seg
    return out


def to_csv(d: Digitized) -> str:
    """CSV text: header `t_s,I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6,rhythm`, one row per sample from
    0 s (t_s = i / fs, 3 decimals), values in mV with 3 decimals, empty outside a lead's window and
    where it was not traced."""
    cols = _columns(d)
    fs = int(d.fs)
    text = np.char.mod("%.3f", np.round(cols, 3) + 0.0)  # + 0.0: no "-0.000"
    text = np.where(np.isnan(cols), "", text)
    t = np.char.mod("%.3f", np.arange(cols.shape[0]) / fs)
    lines = [",".join(CSV_COLUMNS)]
    lines.extend(",".join(row) for row in np.column_stack([t, text]).tolist())
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- npz
def _lead_meta(lead: LeadSignal) -> dict[str, Any]:
    return {"name": lead.name, "start_s": float(lead.start_s), "traced_fraction": float(lead.traced_fraction),
            "confidence": float(lead.confidence), "ok": bool(lead.ok)}


def to_npz_bytes(d: Digitized) -> bytes:
    """The signals as float16 (NaN kept) and the metadata as JSON, compressed."""
    meta = {
        "version": NPZ_VERSION,
        "fs": int(d.fs),
        "px_per_mv": float(d.px_per_mv),
        "px_per_s": float(d.px_per_s),
        "scale_source": d.scale_source,
        "rhythm_lead": d.rhythm_lead,
        "notes": list(d.notes),
        "leads": [_lead_meta(d.leads[name]) for name in L.LEADS if name in d.leads],
        "rhythm": _lead_meta(d.rhythm),
    }
    arrays = {f"lead_{m['name']}": np.asarray(d.leads[m["name"]].signal, np.float16) for m in meta["leads"]}
    arrays["rhythm"] = np.asarray(d.rhythm.signal, np.float16)
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return buf.getvalue()


def from_npz_bytes(data: bytes) -> Digitized:
    """The inverse of `to_npz_bytes` (signals back as float32; float16 keeps about 3 significant digits)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        if meta.get("version") != NPZ_VERSION:
            raise ValueError(f"unknown digitized-ECG format version {meta.get('version')!r}")

        def lead(m: dict, key: str) -> LeadSignal:
            return LeadSignal(name=m["name"], start_s=m["start_s"], signal=z[key].astype(np.float32),
                              traced_fraction=m["traced_fraction"], confidence=m["confidence"], ok=m["ok"])

        leads = {m["name"]: lead(m, f"lead_{m['name']}") for m in meta["leads"]}
        rhythm = lead(meta["rhythm"], "rhythm")
    return Digitized(leads=leads, rhythm=rhythm, rhythm_lead=meta["rhythm_lead"], fs=meta["fs"],
                     px_per_mv=meta["px_per_mv"], px_per_s=meta["px_per_s"], scale_source=meta["scale_source"],
                     notes=tuple(meta["notes"]))


# --------------------------------------------------------------------------- plot
PX_MM = 6  # output pixels per millimetre of paper
MARGIN_L_MM, MARGIN_R_MM = 12, 6  # the left margin holds the 1 mV calibration pulse
HEADER_MM, FOOTER_MM = 14, 7
ROW_MM = 38  # between neighbouring rows' baselines (as printed)
PAPER_W_MM = MARGIN_L_MM + int(L.DURATION_S * L.PAPER_SPEED_MM_S) + MARGIN_R_MM  # 268 mm
PAPER_H_MM = HEADER_MM + 4 * ROW_MM + FOOTER_MM  # 173 mm

BG = (255, 250, 250)  # RGB
GRID_MINOR = (250, 215, 222)
GRID_MAJOR = (238, 150, 168)
INK = (20, 20, 30)
MUTED = (120, 120, 130)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _fmt(v: float | None, unit: str = "", digits: int = 0) -> str | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return f"{v:.{digits}f}{unit}"


def summary_line(m: Any) -> str:
    """Rate, intervals and axis on one line ("" when nothing was measured); m: Measurements or its dict."""
    if m is None:
        return ""
    g = m.to_dict() if hasattr(m, "to_dict") else dict(m)
    parts = []
    if (hr := _fmt(g.get("heart_rate_bpm"), " bpm")) is not None:
        parts.append(f"HR {hr}")
    for key, name in (("pr_ms", "PR"), ("qrs_ms", "QRS")):
        if (v := _fmt(g.get(key), " ms")) is not None:
            parts.append(f"{name} {v}")
    qt, qtc = _fmt(g.get("qt_ms")), _fmt(g.get("qtc_bazett_ms"))
    if qt is not None:
        parts.append(f"QT/QTc {qt}/{qtc} ms" if qtc is not None else f"QT {qt} ms")
    if (ax := _fmt(g.get("axis_deg"), " deg")) is not None:
        parts.append(f"axis {ax}")
    return "   ".join(parts)


def _grid(h: int, w: int) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    img[:] = BG
    x_mm = np.arange(0, w, PX_MM)
    y_mm = np.arange(0, h, PX_MM)
    x0 = MARGIN_L_MM * PX_MM  # align the major lines with t = 0
    for xs, major in ((x_mm, False), (np.arange(x0 % (5 * PX_MM), w, 5 * PX_MM), True)):
        img[:, xs] = GRID_MAJOR if major else GRID_MINOR
    for ys, major in ((y_mm, False), (np.arange(0, h, 5 * PX_MM), True)):
        img[ys, :] = GRID_MAJOR if major else GRID_MINOR
    return img


def _text(img: np.ndarray, s: str, x: float, y: float, scale: float = 0.5, color=INK, thick: int = 1) -> None:
    cv2.putText(img, s, (int(x), int(y)), FONT, scale, color, thick, cv2.LINE_AA)


def _polyline(img: np.ndarray, x: np.ndarray, y: np.ndarray, color=INK, thick: int = 2) -> None:
    """Draw y(x), broken where y is NaN (untraced samples are gaps, not lines)."""
    ok = np.isfinite(y)
    if not ok.any():
        return
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    pts = []
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= 2:
            pts.append(np.stack([x[a:b], y[a:b]], axis=1).round().astype(np.int32))
    if pts:
        cv2.polylines(img, pts, False, color, thick, cv2.LINE_AA)


def plot_png(d: Digitized, measurements: Any = None) -> bytes:
    """A clean 12-lead re-plot: 25 mm/s, 10 mm/mV, the 3 x 4 block and the rhythm strip, lead labels,
    untraced leads marked "not traced", and the measurements (if given) in the header. PNG bytes."""
    w, h = PAPER_W_MM * PX_MM, PAPER_H_MM * PX_MM
    img = _grid(h, w)
    px_s = L.PAPER_SPEED_MM_S * PX_MM
    px_mv = L.GAIN_MM_MV * PX_MM
    x_t0 = MARGIN_L_MM * PX_MM
    fs = int(d.fs)
    _text(img, "Digitized 12-lead ECG   25 mm/s   10 mm/mV", 2 * PX_MM, 5 * PX_MM, 0.6, INK, 2)
    line = summary_line(measurements)
    if line:
        _text(img, line, 2 * PX_MM, 11 * PX_MM, 0.55, INK, 1)
    for r in range(4):
        base = (HEADER_MM + ROW_MM * r + ROW_MM * 0.6) * PX_MM
        # calibration pulse: 1 mV, 0.2 s
        cx0, cx1 = 4 * PX_MM, 4 * PX_MM + 0.2 * px_s
        cal = np.array([[2 * PX_MM, base], [cx0, base], [cx0, base - px_mv], [cx1, base - px_mv], [cx1, base],
                        [x_t0 - PX_MM, base]])
        cv2.polylines(img, [cal.round().astype(np.int32)], False, INK, 2, cv2.LINE_AA)
        if r == L.RHYTHM_ROW:
            label = f"{d.rhythm_lead} (rhythm)" if d.rhythm_lead else "rhythm (lead not read)"
            items = [(d.rhythm, label, 0.0)]
        else:
            items = [(d.leads.get(name), name, c * L.SEGMENT_S) for c, name in enumerate(L.ROWS[r])]
        for lead, label, start in items:
            xa = x_t0 + start * px_s
            if start > 0:  # the short separator tick between two leads
                cv2.line(img, (int(xa), int(base - 4 * PX_MM)), (int(xa), int(base + 4 * PX_MM)), INK, 1, cv2.LINE_AA)
            _text(img, label, xa + PX_MM, base - 12 * PX_MM, 0.6, INK, 2)
            if lead is None or not lead.ok or not np.isfinite(lead.signal).any():
                _text(img, "not traced", xa + 12 * PX_MM, base + 1 * PX_MM, 0.55, MUTED, 1)
                continue
            y = base - np.asarray(lead.signal, np.float64) * px_mv
            y = np.clip(y, 0, h - 1)
            x = xa + np.arange(len(y)) * (px_s / fs)
            _polyline(img, x, y)
    _text(img, "Re-plotted from the photo by ECG Analyzer. Not a medical device: check against the paper.",
          2 * PX_MM, h - 2 * PX_MM, 0.45, MUTED, 1)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
