"""Teaching figures drawn by code (matplotlib, Agg backend) -> PNG bytes.

Every figure is deterministic, so rendered PNGs are cached (``lru_cache``). Lessons
refer to figures by name with a marker ``![caption](figure:<name>)``; the names are
the keys of :data:`FIGURES`. matplotlib is imported lazily so that loading the
lessons (which only needs the names) stays cheap.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from content import ecgsynth as es
from content.ecgsynth import StripParams

DPI = 100


@dataclass(frozen=True)
class FigureSpec:
    name: str
    title: str
    caption: str  # default caption (<= 1024 chars) if a lesson gives none
    draw: Callable[[], bytes]


# --------------------------------------------------------------------------- helpers


def _figure(width_px: int, height_px: int):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def single_beat(p: StripParams, before_s: float = 0.30, after_s: float = 0.62) -> np.ndarray:
    """One P-QRS-T complex: from ``before_s`` before the QRS onset to ``after_s`` after it."""
    strip = es.generate_strip(p)
    onset = next(o for o in strip.qrs_onsets if o >= before_s + 0.05)
    i0 = int(round((onset - before_s) * es.FS))
    i1 = int(round((onset + after_s) * es.FS))
    return strip.signal[i0:i1]


_BEAT = dict(heart_rate=40.0, qt_ms=380.0, duration_s=4.0, seed=7)


def _paper_axes(fig, rect, width_mm: float, y_min: float, y_max: float):
    ax = fig.add_axes(rect)
    es.draw_paper(ax, width_mm, y_min, y_max)
    ax.set_aspect("equal")
    return ax


def _trace(ax, x0_mm: float, sig: np.ndarray, lw: float = 1.6) -> None:
    xs = x0_mm + np.arange(len(sig)) / es.FS * es.PAPER_SPEED_MM_S
    ax.plot(xs, sig * es.GAIN_MM_MV, color=es.TRACE_COLOR, lw=lw, zorder=5)


def _bracket(ax, x0: float, x1: float, y: float, text: str, color: str = "#1f4e9c") -> None:
    ax.annotate(
        "", xy=(x0, y), xytext=(x1, y), zorder=7,
        arrowprops=dict(arrowstyle="<->", color=color, lw=1.4, shrinkA=0, shrinkB=0),
    )
    for x in (x0, x1):
        ax.plot([x, x], [y - 0.8, y + 0.8], color=color, lw=1.0, zorder=7)
    ax.text((x0 + x1) / 2, y - 1.0, text, color=color, ha="center", va="top", fontsize=11,
            zorder=8, bbox=dict(fc="white", ec="none", alpha=0.85, pad=1))


# --------------------------------------------------------------------------- figures


def _draw_pqrst() -> bytes:
    p = StripParams(**_BEAT, pr_ms=160, qrs_ms=90)
    before = 0.30
    sig = single_beat(p, before_s=before, after_s=0.62)
    width_mm = len(sig) / es.FS * es.PAPER_SPEED_MM_S + 4
    fig = _figure(int(width_mm * 32), 30 * 32)
    ax = _paper_axes(fig, (0.0, 0.0, 1.0, 1.0), width_mm, -14.0, 16.0)
    x0 = 2.0
    _trace(ax, x0, sig, lw=2.2)
    mm = es.PAPER_SPEED_MM_S
    onset = x0 + before * mm  # QRS onset in mm
    p_on = onset - p.pr_ms / 1000 * mm
    j = onset + p.qrs_ms / 1000 * mm
    t_end = onset + p.qt_ms / 1000 * mm
    st_t = (p.qt_ms - p.qrs_ms) / 1000 * mm
    t_start = j + 0.25 * st_t
    _bracket(ax, p_on, onset, -4.0, "PR interval\n120–200 ms")
    _bracket(ax, onset, j, -8.5, "QRS\n< 120 ms")
    _bracket(ax, onset, t_end, -12.0, "QT interval (QTc < 450/460 ms)", color="#6b2c91")
    ax.annotate("ST segment", xy=((j + t_start) / 2, 0.3), xytext=((j + t_start) / 2 + 1, 8),
                ha="center", fontsize=11, color="#1f6b3a", zorder=8,
                arrowprops=dict(arrowstyle="->", color="#1f6b3a"))
    labels = [("P", p_on + 1.25, 2.2), ("Q", onset + 0.3, -2.2), ("R", onset + 1.1, 12.8),
              ("S", onset + 2.0, -4.2), ("T", t_start + 0.62 * (t_end - t_start), 4.3)]
    for name, x, y in labels:
        ax.text(x, y, name, fontsize=16, fontweight="bold", ha="center", color="#b3123a", zorder=8)
    ax.text(0.8, 15.0, "1 small box = 1 mm = 0.04 s · 0.1 mV", fontsize=11, va="top",
            color=es.TEXT_COLOR, zorder=8, bbox=dict(fc="white", ec="none", alpha=0.85, pad=1))
    return _png(fig)


def _draw_grid() -> bytes:
    fig = _figure(40 * 30, 20 * 30)
    ax = _paper_axes(fig, (0.0, 0.0, 1.0, 1.0), 40.0, -4.0, 16.0)
    xs, ys = es.calibration_path(4.0)
    ax.plot(xs, ys, color=es.TRACE_COLOR, lw=2.2, zorder=5)
    ax.text(6.5, 10.8, "calibration\n1 mV = 10 mm", ha="center", fontsize=11, color="#1f4e9c", zorder=8)
    # one small box
    ax.add_patch(_rect(15, 0, 1, 1, "#1f4e9c"))
    ax.annotate("small box: 1 mm\n0.04 s wide · 0.1 mV tall", xy=(16, 0.6), xytext=(18, -3.3),
                fontsize=11, color="#1f4e9c", zorder=8, arrowprops=dict(arrowstyle="->", color="#1f4e9c"))
    # one large box
    ax.add_patch(_rect(25, 5, 5, 5, "#6b2c91"))
    ax.text(27.5, 10.6, "large box: 5 mm\n0.20 s wide · 0.5 mV tall", ha="center", fontsize=11,
            color="#6b2c91", zorder=8, bbox=dict(fc="white", ec="none", alpha=0.85, pad=1))
    _bracket(ax, 15, 40, 13.8, "5 large boxes = 1 second at 25 mm/s", color="#1f6b3a")
    ax.text(15.2, 3.2, "rate ≈ 300 / large boxes between R waves\n       = 1500 / small boxes",
            fontsize=11, color=es.TEXT_COLOR, zorder=8, bbox=dict(fc="white", ec="none", alpha=0.85, pad=1))
    return _png(fig)


def _rect(x, y, w, h, color):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, fill=False, ec=color, lw=2.2, zorder=6)


def _draw_leads() -> bytes:
    from matplotlib.patches import Circle, Ellipse, Wedge

    fig = _figure(1300, 640)
    # left: chest schematic with V1-V6
    ax = fig.add_axes((0.0, 0.0, 0.5, 1.0))
    ax.set_xlim(-10, 10)
    ax.set_ylim(-10, 10)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.add_patch(Ellipse((0, 0.8), 15, 15.4, fill=False, lw=2, ec="#555555"))
    ax.plot([0, 0], [6.5, -4.5], color="#999999", lw=5, solid_capstyle="round")  # sternum
    for name, y in zip(("2nd", "3rd", "4th", "5th"), [4.5, 2.5, 0.5, -1.5]):  # intercostal spaces
        ax.text(-7.6, y, f"{name} ICS", fontsize=8, color="#888888", ha="right")
    # the patient faces you: the patient's left (V4-V6) is on your right
    pos = {"V1": (-1.1, 0.5), "V2": (1.1, 0.5), "V3": (2.4, -0.6), "V4": (3.7, -1.5),
           "V5": (5.1, -1.5), "V6": (6.4, -1.5)}
    for name, (x, y) in pos.items():
        ax.add_patch(Circle((x, y), 0.45, color="#b3123a", zorder=5))
        ax.text(x, y - 1.2, name, ha="center", fontsize=11, fontweight="bold", zorder=6)
    ax.text(0, 9.4, "Precordial leads (patient facing you)", ha="center", fontsize=13, fontweight="bold")
    notes = ("V1: 4th ICS, right sternal edge   V2: 4th ICS, left sternal edge\n"
             "V3: midway V2–V4   V4: 5th ICS, midclavicular line\n"
             "V5: anterior axillary line, level of V4   V6: midaxillary line, level of V4")
    ax.text(0, -9.6, notes, ha="center", fontsize=9.5, va="bottom")
    # right: hexaxial reference system
    ax2 = fig.add_axes((0.5, 0.0, 0.5, 1.0))
    ax2.set_xlim(-1.5, 1.5)
    ax2.set_ylim(-1.55, 1.45)
    ax2.set_aspect("equal")
    ax2.axis("off")
    # normal axis sector -30..+90 (angles measured clockwise from lead I; +90 points down)
    ax2.add_patch(Wedge((0, 0), 1.0, -90, 30, color="#d9f0dd", zorder=1))
    leads = {"I": 0, "II": 60, "III": 120, "aVF": 90, "aVL": -30, "aVR": -150}
    for name, ang in leads.items():
        a = math.radians(-ang)  # screen coordinates: positive angles point downwards
        x, y = math.cos(a), math.sin(a)
        ax2.plot([-x, x], [-y, y], color="#cccccc", lw=1, zorder=2)
        ax2.annotate("", xy=(x, y), xytext=(0, 0),
                     arrowprops=dict(arrowstyle="->", color="#1f4e9c", lw=2), zorder=3)
        ax2.text(1.22 * x, 1.22 * y, f"{name}\n{ang:+d}°", ha="center", va="center", fontsize=11)
    ax2.text(0.15, -0.45, "normal axis\n−30° to +90°", fontsize=10, color="#1f6b3a", ha="left")
    ax2.text(0, 1.38, "Hexaxial reference (frontal plane)", ha="center", fontsize=13, fontweight="bold")
    return _png(fig)


def _complex_row(panels: list[tuple[str, StripParams]], title: str, px_per_mm: float = 14.0) -> bytes:
    """Several single complexes side by side on one sheet of paper, each with a label."""
    before, after = 0.22, 0.58
    seg_mm = (before + after) * es.PAPER_SPEED_MM_S
    gap = 3.0
    width_mm = len(panels) * (seg_mm + gap) + gap
    y_min, y_max = -12.0, 22.0
    fig = _figure(int(width_mm * px_per_mm), int((y_max - y_min) * px_per_mm))
    ax = fig.add_axes((0, 0, 1, 1))
    es.draw_paper(ax, width_mm, y_min, y_max)
    for k, (label, p) in enumerate(panels):
        x0 = gap + k * (seg_mm + gap)
        _trace(ax, x0, single_beat(p, before, after), lw=2.0)
        ax.text(x0 + seg_mm / 2, y_max - 4.5, label, ha="center", va="top", fontsize=11, zorder=8,
                bbox=dict(fc="white", ec="none", alpha=0.9, pad=2))
    ax.text(width_mm / 2, y_max - 0.6, title, ha="center", va="top", fontsize=13, fontweight="bold",
            zorder=8, bbox=dict(fc="white", ec="none", alpha=0.9, pad=2))
    return _png(fig)


def _draw_stemi_evolution() -> bytes:
    b = dict(_BEAT)
    return _complex_row(
        [
            ("1. normal", StripParams(**b)),
            ("2. hyperacute T\n(minutes)", StripParams(**b, t_mv=0.9)),
            ("3. ST elevation\n(hours)", StripParams(**b, st_mv=0.35, t_mv=0.45)),
            ("4. Q wave + ST↑\n(hours–days)", StripParams(**b, st_mv=0.25, q_mv=-0.45, q_ms=40, t_mv=0.2)),
            ("5. Q wave + T inversion\n(days–weeks)", StripParams(**b, q_mv=-0.45, q_ms=40, t_mv=-0.3)),
        ],
        "Typical evolution of a ST-elevation infarct (schematic, one lead facing the infarct)",
    )


def _draw_reciprocal() -> bytes:
    b = dict(_BEAT)
    return _complex_row(
        [
            ("II: ST elevation", StripParams(**b, st_mv=0.3, t_mv=0.45)),
            ("III: ST elevation", StripParams(**b, st_mv=0.35, t_mv=0.45, r_mv=0.9)),
            ("aVF: ST elevation", StripParams(**b, st_mv=0.3, t_mv=0.45, r_mv=1.0)),
            ("aVL: reciprocal ST depression", StripParams(**b, st_mv=-0.2, t_mv=-0.15, r_mv=0.6)),
        ],
        "Inferior STEMI: ST elevation in II, III, aVF with reciprocal depression in aVL (schematic)",
    )


def _draw_old_mi() -> bytes:
    b = dict(_BEAT)
    return _complex_row(
        [
            ("normal complex", StripParams(**b)),
            ("old infarct: Q ≥ 40 ms,\nsmall R, inverted T", StripParams(**b, q_mv=-0.5, q_ms=44, t_mv=-0.3)),
            ("old infarct: QS pattern\n+ persistent ST↑ (aneurysm?)",
             StripParams(**b, q_mv=-0.9, q_ms=60, r_mv=0.0, st_mv=0.15, t_mv=0.05)),
        ],
        "What an old infarct can leave behind (schematic)",
    )


def _strip_figure(p: StripParams, label: str) -> Callable[[], bytes]:
    def draw() -> bytes:
        return es.render_strip(es.generate_strip(p).signal, label=label)

    return draw


_RHYTHMS: list[tuple[str, str, StripParams, str]] = [
    ("rhythm_sinus", "Normal sinus rhythm", StripParams(heart_rate=72, seed=11),
     "Normal sinus rhythm, about 72/min: every QRS is preceded by the same upright P wave (lead II), "
     "PR constant at 160 ms, narrow QRS, regular RR."),
    ("rhythm_sinus_tachycardia", "Sinus tachycardia", StripParams(heart_rate=125, pr_ms=140, seed=12),
     "Sinus tachycardia, about 125/min: sinus P waves before each QRS, regular, rate above 100/min."),
    ("rhythm_sinus_bradycardia", "Sinus bradycardia", StripParams(heart_rate=46, seed=13),
     "Sinus bradycardia, about 46/min: normal P-QRS-T sequence, rate below 60/min."),
    ("rhythm_sinus_arrhythmia", "Sinus arrhythmia", StripParams(heart_rate=70, rhythm="sinus_arrhythmia", seed=14),
     "Sinus arrhythmia: sinus P waves, but the RR interval lengthens and shortens with breathing "
     "(a normal finding, especially in the young)."),
    ("rhythm_af", "Atrial fibrillation", StripParams(heart_rate=95, rhythm="af", seed=15),
     "Atrial fibrillation: no P waves, a fine irregular baseline and irregularly irregular RR intervals."),
    ("rhythm_flutter", "Atrial flutter 2:1", StripParams(heart_rate=150, rhythm="flutter", t_mv=0.1, seed=16),
     "Atrial flutter with 2:1 conduction: sawtooth flutter waves at 300/min, regular ventricular rate 150/min."),
    ("rhythm_first_degree_block", "First-degree AV block", StripParams(heart_rate=64, pr_ms=280, seed=17),
     "First-degree AV block: every P is conducted, but the PR interval is fixed and long (280 ms > 200 ms)."),
    ("rhythm_mobitz1", "Second-degree AV block, Mobitz I", StripParams(heart_rate=75, av_block="mobitz1", seed=18),
     "Mobitz I (Wenckebach): the PR interval lengthens from beat to beat until one P wave is not "
     "followed by a QRS; then the cycle restarts."),
    ("rhythm_mobitz2", "Second-degree AV block, Mobitz II", StripParams(heart_rate=75, av_block="mobitz2", seed=19),
     "Mobitz II: constant PR interval in the conducted beats, and suddenly a P wave with no QRS."),
    ("rhythm_complete_block", "Third-degree (complete) AV block",
     StripParams(heart_rate=38, qrs_ms=140, av_block="complete", atrial_rate=85, seed=20),
     "Complete heart block: P waves (about 85/min) and QRS complexes (about 38/min, wide escape rhythm) "
     "march independently; the PR interval varies at random."),
    ("rhythm_pvc", "Premature ventricular complexes", StripParams(heart_rate=72, pvc_every=4, seed=21),
     "Sinus rhythm with premature ventricular complexes: early, wide, bizarre QRS without a P wave, "
     "T wave opposite to the QRS, followed by a compensatory pause."),
    ("rhythm_wide_qrs", "Wide QRS (bundle branch block pattern)", StripParams(heart_rate=68, qrs_ms=150, seed=22),
     "Sinus rhythm with a wide QRS (150 ms): a bundle branch block pattern with a notched R wave and a "
     "T wave pointing the opposite way to the QRS."),
]


FIGURES: dict[str, FigureSpec] = {
    "pqrst": FigureSpec(
        "pqrst", "The P-QRS-T complex",
        "One cardiac cycle on ECG paper: P wave (atrial depolarisation), QRS complex (ventricular "
        "depolarisation), ST segment and T wave (ventricular repolarisation), with the PR, QRS and QT intervals.",
        _draw_pqrst),
    "grid": FigureSpec(
        "grid", "ECG paper and calibration",
        "ECG paper at 25 mm/s and 10 mm/mV: a small box is 0.04 s by 0.1 mV, a large box 0.2 s by 0.5 mV; "
        "the calibration pulse is 1 mV = 10 mm tall.",
        _draw_grid),
    "leads": FigureSpec(
        "leads", "Lead placement and the hexaxial system",
        "Left: where the precordial electrodes V1–V6 go. Right: the six limb leads in the frontal plane "
        "(hexaxial reference), with the normal axis range shaded.",
        _draw_leads),
    "stemi_evolution": FigureSpec(
        "stemi_evolution", "Evolution of a STEMI",
        "Schematic evolution of an ST-elevation MI in a lead facing the infarct: hyperacute T, ST elevation, "
        "Q waves, then T-wave inversion. Timing varies, and reperfusion changes it.",
        _draw_stemi_evolution),
    "reciprocal": FigureSpec(
        "reciprocal", "Reciprocal change",
        "Inferior STEMI (schematic): ST elevation in II, III and aVF, mirror-image ST depression in aVL.",
        _draw_reciprocal),
    "old_mi": FigureSpec(
        "old_mi", "Signs of an old infarct",
        "Schematic complexes: normal; pathological Q wave with a small R and inverted T; a QS complex with "
        "persistent ST elevation that can signal a ventricular aneurysm.",
        _draw_old_mi),
}
for _name, _title, _params, _caption in _RHYTHMS:
    FIGURES[_name] = FigureSpec(_name, _title, _caption, _strip_figure(_params, _title))

FIGURE_NAMES = frozenset(FIGURES)


@lru_cache(maxsize=None)
def render_figure(name: str) -> bytes:
    """PNG bytes of the named figure (cached: figures are deterministic)."""
    try:
        spec = FIGURES[name]
    except KeyError:
        raise KeyError(f"unknown figure {name!r}; known: {sorted(FIGURES)}") from None
    return spec.draw()
