"""Ground-truth pages: known 12-lead signals drawn in exactly the data set's print layout.

`render_page` draws a `content.ecgsynth.TwelveLead` onto a canonical 1600 x 1137 page the way the
data set's ECG machine prints it (see `inference/layout.py` for the measured geometry): a dotted grid
inside a thin pink rectangle, a calibration pulse at the start of each row, the 3 x 4 block of
2.5 s leads with their labels and the thin black separators, a 10 s rhythm strip, the header and
the footer. Signals are placed exactly at x = T0_X + t * PX_PER_S, y = BASELINE_Y[row] - mV *
PX_PER_MV, so the digitizer's output can be compared with `RenderedPage.truth`.

Measured on the real pages and copied here (besides the layout constants):
* the grid is one-pixel grey dots (about RGB 175, barely warm): a dot every 1 mm on the 1 mm lines,
  every 0.5 mm along the 5 mm lines; its pitch is 5.744 px/mm (the grid was printed on a slightly
  different scale from the traces, 5.688 px/mm), 5 mm lines at x = 76 + 28.72 k, y = 234 + 28.72 k;
* the rectangle is pink (RGB 228, 167, 172), 2-3 px;
* traces are black, about 3 px thick, antialiased; separators are 2 px, from y = 304 to 802;
* the calibration pulse: foot x 69.5-76, top 76-88 (57 px above the foot), foot 88-94.5;
* labels in a Times-like face (STIX here), cap height 14 px, baseline 5 px above the row baseline,
  at x = 112 in the first column and 3 px right of a separator elsewhere;
* the header (ECG REPORT, ID line, a double rule at y = 98-105) and the footer
  ("0.67~25Hz  AC50  25mm/s  10mm/mV  4*2.5s+1r  <heart><rate>  ...", date and time at the right).

Everything is drawn on an ink-coverage mask at 3x and reduced to the page (area averaging), which
gives antialiasing like the printer's; the grid is drawn at 1x (its dots are single pixels). By
default the page is JPEG-compressed at quality 80 like the data set.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from content import ecgsynth as es
from inference import layout as L

SS = 3  # supersampling of the ink layer
GRID_PITCH_PX = 5.7445  # 1 mm of the printed grid (not of the traces, see the module docstring)
GRID_MAJOR_X0 = 76.0
GRID_MAJOR_Y0 = 234.0
GRID_DOT_RGB = (168, 163, 160)
PAPER_RGB = (252, 250, 248)  # inside the grid box
MARGIN_RGB = (255, 255, 255)  # outside it
BOX_RGB = (226, 160, 168)
INK_RGB = (8, 8, 8)
SEPARATOR_Y = (304.0, 802.0)
CAL_PULSE_X = (69.5, 76.0, 88.0, 94.5)  # foot start, rising edge, falling edge, foot end
LABEL_SIZE_PX = 20
LABEL_DY = 5.0  # label baseline above the row baseline
CLIP_Y = (L.GRID_BOX[1] + 3, L.GRID_BOX[3] - 3)  # the printer keeps the trace inside the grid


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    base = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")
    for name in ("STIXGeneral.ttf", "DejaVuSerif.ttf"):
        path = os.path.join(base, name)
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


@dataclass
class RenderedPage:
    image: np.ndarray  # uint8 RGB, (PAGE_H, PAGE_W, 3)
    truth: dict = field(default_factory=dict)
    ecg: es.TwelveLead | None = None

    def png_bytes(self) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(self.image).save(buf, format="PNG")
        return buf.getvalue()

    def jpeg_bytes(self, quality: int = 80) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(self.image).save(buf, format="JPEG", quality=quality)
        return buf.getvalue()


# --------------------------------------------------------------------------- pieces


def _grid_layer(rng: np.random.Generator) -> np.ndarray:
    """The paper: background, dotted grid and the pink rectangle, at 1x."""
    h, w = L.PAGE_H, L.PAGE_W
    img = np.empty((h, w, 3), np.float32)
    img[:] = MARGIN_RGB
    x0, y0, x1, y1 = L.GRID_BOX
    img[y0:y1 + 1, x0:x1 + 1] = PAPER_RGB
    p = GRID_PITCH_PX
    kx = math.ceil((x0 + 2 - GRID_MAJOR_X0) / p)
    ky = math.ceil((y0 + 2 - GRID_MAJOR_Y0) / p)
    xs = GRID_MAJOR_X0 + np.arange(kx, int((x1 - 2 - GRID_MAJOR_X0) / p) + 1) * p
    ys = GRID_MAJOR_Y0 + np.arange(ky, int((y1 - 2 - GRID_MAJOR_Y0) / p) + 1) * p
    ix = np.arange(kx, kx + len(xs))
    iy = np.arange(ky, ky + len(ys))
    dots = np.zeros((h, w), bool)
    xr = np.round(xs).astype(int)
    yr = np.round(ys).astype(int)
    dots[np.ix_(yr, xr)] = True  # 1 mm dots
    half_x = np.round(GRID_MAJOR_X0 + np.arange(2 * kx, 2 * (kx + len(xs))) * p / 2).astype(int)
    half_y = np.round(GRID_MAJOR_Y0 + np.arange(2 * ky, 2 * (ky + len(ys))) * p / 2).astype(int)
    half_x = half_x[(half_x > x0 + 1) & (half_x < x1 - 1)]
    half_y = half_y[(half_y > y0 + 1) & (half_y < y1 - 1)]
    major_x = xr[ix % 5 == 0]
    major_y = yr[iy % 5 == 0]
    dots[np.ix_(half_y, major_x)] = True  # 5 mm lines: a dot every 0.5 mm
    dots[np.ix_(major_y, half_x)] = True
    shade = rng.uniform(0.85, 1.0, size=(h, w)).astype(np.float32)
    dot_rgb = np.asarray(GRID_DOT_RGB, np.float32)
    paper = np.asarray(PAPER_RGB, np.float32)
    mix = shade[dots][:, None]
    img[dots] = paper + (dot_rgb - paper) * mix
    box = np.asarray(BOX_RGB, np.float32)
    img[y0:y0 + 2, x0:x1 + 1] = box
    img[y1 - 1:y1 + 1, x0:x1 + 1] = box
    img[y0:y1 + 1, x0:x0 + 2] = box
    img[y0:y1 + 1, x1 - 2:x1 + 1] = box
    return img


class _Ink:
    """Ink coverage at SS x the page, in page coordinates (pixel centres at integers)."""

    SHIFT = 4

    def __init__(self) -> None:
        self.mask = np.zeros((L.PAGE_H * SS, L.PAGE_W * SS), np.uint8)  # strokes (cv2)
        self.pil = Image.new("L", (L.PAGE_W * SS, L.PAGE_H * SS), 0)  # text (PIL)
        self._draw = ImageDraw.Draw(self.pil)

    def _pt(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # page pixel centre (i) <-> SS-pixel centre (SS*i + (SS-1)/2)
        f = 1 << self.SHIFT
        X = (np.asarray(x, float) * SS + (SS - 1) / 2) * f
        Y = (np.asarray(y, float) * SS + (SS - 1) / 2) * f
        return np.stack([np.round(X), np.round(Y)], axis=-1).astype(np.int32)

    def polyline(self, x, y, width_px: float) -> None:
        pts = self._pt(x, y).reshape(-1, 1, 2)
        th = max(1, int(round(width_px * SS)))
        cv2.polylines(self.mask, [pts], False, 255, thickness=th, lineType=cv2.LINE_AA, shift=self.SHIFT)

    def text(self, x: float, y_baseline: float, s: str, size_px: int, anchor: str = "ls", weight: int = 0) -> None:
        self._draw.text((x * SS + 1, y_baseline * SS + 1), s, fill=255, font=_font(size_px * SS), anchor=anchor,
                        stroke_width=weight, stroke_fill=255)

    def coverage(self) -> np.ndarray:
        full = np.maximum(self.mask, np.asarray(self.pil))
        small = cv2.resize(full, (L.PAGE_W, L.PAGE_H), interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0


def _header_footer(ink: _Ink, rng: np.random.Generator, printed_hr: int) -> dict:
    pid = f"{int(rng.integers(100000, 999999))}"
    year = int(rng.choice([2019, 2020, 2021]))
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    hh, mm, sec = int(rng.integers(1, 13)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    ampm = "AM" if rng.random() < 0.5 else "PM"
    date = f"{year:04d}-{month:02d}-{day:02d}"
    clock = f"{hh}:{mm:02d}:{sec:02d}"
    ink.text(821, 44, "ECG  REPORT", 31, anchor="ms")
    f2 = 19
    for x, s in ((51, f"ID : {pid}"), (235, "Years"), (326, "Male"), (448, "cm"), (555, "kg"),
                 (658, "/"), (695, "mmHg"), (794, "Race:Unknown"), (967, "Room  No.:"),
                 (1105, "Department:")):
        ink.text(x, 66, s, f2)
    ink.text(51, 90, "Exam.Room:", f2)
    ink.text(202, 90, "Medication:", f2)
    for y in (99.0, 104.0):
        ink.polyline(np.array([49.0, 1557.0]), np.array([y, y]), 3.0)
    ink.text(51, 122, "Diagnosis  Information:", f2)
    ink.text(1126, 147, "Technician :", f2)
    ink.text(1127, 171, "Ref-Phys.  :", f2)
    ink.text(1126, 195, "Report  Confirmed  by:", f2)
    f3 = 17
    words = ((50, "0.67~25Hz"), (135, "AC50"), (181, "25mm/s"), (245, "10mm/mV"), (323, "4*2.5s+1r"),
             (398, f"\u2665{printed_hr}"), (440, "SE-3"), (482, "V1.0"), (521, "SEMIP"), (574, "V1.7"),
             (1296, date), (1399, clock), (1462, ampm))
    for x, s in words:
        ink.text(x, 1122, s, f3)
    return {"patient_id": pid, "date": date, "time": f"{clock} {ampm}"}


def _y_of(mv: np.ndarray, row: int) -> np.ndarray:
    y = L.BASELINE_Y[row] - np.asarray(mv, float) * L.PX_PER_MV
    return np.clip(y, CLIP_Y[0], CLIP_Y[1])


def _cal_pulse(ink: _Ink, row: int, width: float) -> None:
    yb = L.BASELINE_Y[row]
    yt = yb - L.PX_PER_MV  # 1 mV = 10 mm
    a, b, c, d = CAL_PULSE_X
    ink.polyline(np.array([a, b, b, c, c, d]), np.array([yb, yb, yt, yt, yb, yb]), width)


# --------------------------------------------------------------------------- pages


def render_page(
    ecg: es.TwelveLead,
    *,
    rhythm_lead: str = "II",
    printed_hr: int | None = None,
    seed: int = 0,
    jpeg_quality: int | None = 80,
    use_clean: bool = False,
) -> RenderedPage:
    """Draw `ecg` as the data set's machine prints it; `truth` holds what was drawn.

    truth: leads {name: {row, col, start_s, end_s, signal (the lead's 2.5 s window, mV at fs)}},
    rhythm (10 s of rhythm_lead), rhythm_lead, fs, heart_rate, printed_hr, intervals, axis, ST/Q/T
    per lead, r_times, beat kinds, the header's patient ID / date / time, the ink width, the
    samples clipped at the grid edge per lead.
    """
    if rhythm_lead not in es.LEADS12:
        raise ValueError(f"unknown rhythm lead {rhythm_lead!r}")
    rng = np.random.default_rng(seed)
    sig = ecg.clean if use_clean else ecg.signals
    fs = ecg.fs
    n = len(sig["I"])
    hr_print = int(round(ecg.heart_rate)) if printed_hr is None else int(printed_hr)
    ink_w = float(rng.uniform(1.85, 2.3))  # nominal; cv2 AA strokes come out ~0.4 px wider

    paper = _grid_layer(rng)
    ink = _Ink()
    header = _header_footer(ink, rng, hr_print)

    seg_n = int(round(L.SEGMENT_S * fs))
    t_all = np.arange(n) / fs
    leads_truth: dict[str, dict] = {}
    clipped: dict[str, int] = {}
    for r, names in enumerate(L.ROWS):
        _cal_pulse(ink, r, ink_w * 0.85)
        for c, name in enumerate(names):
            i0 = c * seg_n
            i1 = min(n, (c + 1) * seg_n + 1)  # windows touch at the separator
            x = L.T0_X + t_all[i0:i1] * L.PX_PER_S
            v = sig[name][i0:i1]
            y = _y_of(v, r)
            raw = L.BASELINE_Y[r] - v * L.PX_PER_MV
            clipped[name] = int(np.sum((raw < CLIP_Y[0]) | (raw > CLIP_Y[1])))
            ink.polyline(x, y, ink_w)
            lx = L.T0_X + 2.0 if c == 0 else L.SEPARATOR_X[c - 1] + 5.0
            ink.text(lx, L.BASELINE_Y[r] - LABEL_DY, name, LABEL_SIZE_PX)
            leads_truth[name] = {
                "row": r, "col": c, "start_s": c * L.SEGMENT_S, "end_s": (c + 1) * L.SEGMENT_S,
                "signal": np.asarray(sig[name][i0:i0 + seg_n], np.float32),
            }
    for sx in L.SEPARATOR_X:
        ink.polyline(np.array([sx, sx]), np.array(SEPARATOR_Y), 2.0)
    _cal_pulse(ink, L.RHYTHM_ROW, ink_w * 0.85)
    v = sig[rhythm_lead]
    raw = L.BASELINE_Y[L.RHYTHM_ROW] - v * L.PX_PER_MV
    clipped["rhythm"] = int(np.sum((raw < CLIP_Y[0]) | (raw > CLIP_Y[1])))
    ink.polyline(L.T0_X + t_all * L.PX_PER_S, _y_of(v, L.RHYTHM_ROW), ink_w)
    ink.text(L.T0_X + 2.0, L.BASELINE_Y[L.RHYTHM_ROW] - LABEL_DY, rhythm_lead, LABEL_SIZE_PX)

    cov = ink.coverage()[..., None]
    img = paper * (1.0 - cov) + np.asarray(INK_RGB, np.float32) * cov
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    if jpeg_quality:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=int(jpeg_quality))
        img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()

    truth = {
        "fs": fs,
        "leads": leads_truth,
        "rhythm": np.asarray(v, np.float32),
        "rhythm_lead": rhythm_lead,
        "heart_rate": ecg.heart_rate,
        "printed_hr": hr_print,
        "rhythm_kind": ecg.rhythm,
        "pr_ms": ecg.pr_ms,
        "qrs_ms": ecg.qrs_ms,
        "qt_ms": ecg.qt_ms,
        "qtc_bazett_ms": ecg.qtc_bazett_ms,
        "axis_deg": ecg.axis_deg,
        "net_axis_deg": ecg.net_axis_deg,
        "st_mv": dict(ecg.st_mv),
        "q_mv": dict(ecg.q_mv),
        "t_mv": dict(ecg.t_mv),
        "r_times": list(ecg.r_times),
        "qrs_onsets": list(ecg.qrs_onsets),
        "beat_kinds": list(ecg.beat_kinds),
        "ink_width_px": ink_w,
        "clipped_samples": clipped,
        "jpeg_quality": jpeg_quality,
        "px_per_mv": L.PX_PER_MV,
        "px_per_s": L.PX_PER_S,
        **header,
    }
    return RenderedPage(image=img, truth=truth, ecg=ecg)


def random_params(seed: int) -> tuple[es.TwelveLeadParams, str]:
    """A random but plausible 12-lead ECG (and the rhythm strip's lead) for digitizer evaluation."""
    rng = np.random.default_rng(10_000 + seed)
    af = rng.random() < 0.2
    hr = float(rng.uniform(45, 150)) if not af else float(rng.uniform(70, 140))
    kind = rng.choice(["normal", "stemi", "old_mi", "normal"])
    st: dict = {}
    q: dict = {}
    tinv: tuple = ()
    if kind == "stemi":
        terr = str(rng.choice(["anterior", "inferior", "lateral"]))
        mag = float(rng.uniform(0.1, 0.4))
        if terr == "inferior":
            st = es.st_vector(float(rng.uniform(95, 120)), mag)
        elif terr == "lateral":
            st = es.st_vector(float(rng.uniform(-40, -10)), mag)
            st.update({"V5": round(0.7 * mag, 3), "V6": round(0.6 * mag, 3)})
        else:
            st = {"V1": round(0.4 * mag, 3), "V2": round(mag, 3), "V3": round(mag, 3), "V4": round(0.7 * mag, 3)}
    elif kind == "old_mi":
        terr = str(rng.choice(["anterior", "inferior"]))
        if terr == "anterior":
            q = {ld: (float(-rng.uniform(0.2, 0.6)), float(rng.uniform(40, 50))) for ld in ("V1", "V2", "V3")}
            tinv = ("V2", "V3", "V4") if rng.random() < 0.6 else ()
        else:
            w = float(rng.uniform(40, 50))
            q = {ld: (v, w) for ld, v in es.st_vector(float(rng.uniform(95, 110)), -float(rng.uniform(0.3, 0.6))).items()
                 if ld in ("II", "III", "aVF")}
            tinv = ("III", "aVF") if rng.random() < 0.6 else ()
    qrs = float(rng.choice([rng.uniform(75, 105), rng.uniform(75, 105), rng.uniform(120, 150)]))
    p = es.TwelveLeadParams(
        heart_rate=hr,
        rhythm="af" if af else "sinus",
        pvc_every=int(rng.integers(4, 8)) if rng.random() < 0.1 else None,
        pr_ms=float(rng.uniform(120, 220)),
        qrs_ms=qrs,
        qt_ms=float(es.default_qt_ms(hr, float(rng.uniform(380, 460)))),
        axis_deg=float(rng.uniform(-30, 100)),
        r_scale=float(rng.uniform(0.7, 1.3)),
        st_mv=st,
        q_waves=q,
        t_invert=tinv,
        noise_mv=float(rng.uniform(0.0, 0.015)),
        wander_mv=float(rng.uniform(0.0, 0.08)),
        seed=int(seed),
    )
    return p, ("II" if rng.random() < 0.6 else "III")


def render_random_page(seed: int, *, jpeg_quality: int | None = 80) -> RenderedPage:
    """A random plausible ECG page (rate 45-150, some AF, ST elevation in a territory, Q waves...)."""
    p, rhythm_lead = random_params(seed)
    ecg = es.generate_12lead(p)
    page = render_page(ecg, rhythm_lead=rhythm_lead, seed=seed, jpeg_quality=jpeg_quality)
    page.truth["params"] = p
    return page
