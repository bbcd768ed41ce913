"""Labelled synthetic 12-lead ECGs for pre-training the signal model: `generate(kind, seed)`, `dataset(n, seed)`.

Every example is built on `content.ecgsynth.generate_12lead` (Einthoven-consistent limb leads, exact ST
shifts, Q waves, T inversion, AF, PVCs) and extended here with what it does not model:

* **Beat placement at chosen times** (`_compose`): one noiseless beat of the generator, recorded at 50 bpm,
  is cut into its P wave and its QRS-T (both have compact support, so the cut is exact) and laid down at
  any P and QRS times. That gives sinus rhythms at any rate and the AV blocks (long PR, Wenckebach,
  Mobitz II, complete heart block with an escape rhythm), and every beat -- the ones cut by the page's
  edges too -- carries the same morphology.
* **Morphology added to that beat** (`_add_waves`): hyperacute T waves, the terminal R' / slurred S of
  right bundle branch block, the broad notched lateral R of left bundle branch block, the J notch and
  tall T waves of early repolarisation. Limb-lead additions are frontal vectors (`ecgsynth.st_vector`),
  so the twelve leads stay consistent.
* **Recording artefacts** (`_finish`): a gain error of the digitizer's scale, baseline wander (mild: the
  printer's 0.67 Hz high-pass removes most of it) and white noise, on the 8 independent leads before the
  other four are derived.

Labels are multi-label over `LABELS`; rate labels (tachy, brady) come from the realised ventricular rate
of every kind, so an inferior MI at 110 bpm is also "tachy". `product_class` maps them to the product's
four classes (`inference.labels.LABELS`) for fine-tuning on the real pages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from content import ecgsynth as es
from inference import layout as L
from inference.labels import LABELS as PRODUCT_LABELS
from inference.signals import Digitized, LeadSignal

FS = es.FS
DURATION_S = 10.0
N = int(DURATION_S * FS)
PRE_S, POST_S = 3.0, 2.0  # beats are laid from before the page to after it, so its edges cut them
TEMPLATE_RATE = 50.0  # bpm of the beat that is cut into P and QRS-T templates
P_LEAD_S = 0.02  # the P template starts this long before the P onset ...
QRS_LEAD_S = 0.01  # ... the QRS-T template this long before the QRS onset

LABELS = ("acute_mi", "old_mi", "af", "pvc", "av_block", "bbb", "tachy", "brady", "lvh", "early_repol", "normal")
ABNORMAL_RHYTHM = ("af", "pvc", "av_block", "bbb", "tachy", "brady")
NORMAL_VARIANTS = ("lvh", "early_repol")  # with no other finding the ECG is still "normal"

KIND_LABELS = {
    "normal": ("normal",),
    "acute_mi_anterior": ("acute_mi",),
    "acute_mi_inferior": ("acute_mi",),
    "acute_mi_lateral": ("acute_mi",),
    "old_mi_anterior": ("old_mi",),
    "old_mi_inferior": ("old_mi",),
    "old_mi_lateral": ("old_mi",),
    "af": ("af",),
    "pvc": ("pvc",),
    "av_block_first": ("av_block",),
    "av_block_second": ("av_block",),
    "av_block_complete": ("av_block",),
    "rbbb": ("bbb",),
    "lbbb": ("bbb",),
    "tachy": ("tachy",),
    "brady": ("brady",),
    "lvh": ("lvh",),
    "early_repol": ("early_repol",),
}
KINDS = tuple(KIND_LABELS)

TACHY_BPM, BRADY_BPM = 100.0, 60.0
_BASIS = ("I", "II") + es.PRECORDIAL_LEADS  # the 8 independent leads; the other 4 are derived
_ROW = {ld: k for k, ld in enumerate(_BASIS)}


@dataclass(frozen=True)
class Example:
    kind: str
    leads: dict  # lead -> 10 s at FS (mV), all twelve, as recorded (artefacts included)
    digitized: Digitized  # the same cut like the printed page: 2.5 s per lead + the rhythm strip
    labels: np.ndarray  # float32 multi-hot over LABELS
    heart_rate: float  # realised ventricular rate (bpm)


@dataclass(frozen=True)
class Rhythm:
    """When the atria and the ventricles fire (s, on the page's axis; may start before 0)."""

    p_onsets: np.ndarray
    qrs_onsets: np.ndarray


@dataclass(frozen=True)
class Wave:
    """A wave added to the QRS-T template: timing relative to the QRS onset, amplitudes per basis lead."""

    start_s: float
    dur_s: float
    amps: np.ndarray  # (8,) over _BASIS
    skew: float = 1.0
    power: float = 2.0


# --------------------------------------------------------------------------- small helpers


def _limb(angle_deg: float, mv: float) -> np.ndarray:
    """(8,) amplitudes of a frontal vector: its projection on I and II, zero on V1-V6."""
    v = es.st_vector(angle_deg, mv)
    out = np.zeros(8)
    out[0], out[1] = v["I"], v["II"]
    return out


def _prec(**mv: float) -> np.ndarray:
    """(8,) amplitudes on named precordial leads, e.g. _prec(V1=0.5)."""
    out = np.zeros(8)
    for ld, v in mv.items():
        out[_ROW[ld]] = v
    return out


def _t_window(qrs_s: float, qt_s: float) -> tuple[float, float]:
    """(start, duration) of the T wave after the QRS onset, placed as ecgsynth places it."""
    st_t = max(qt_s - qrs_s, 0.14)
    start = qrs_s + max(0.08, 0.25 * st_t)
    return start, qt_s - start


def _qt_s(rate_bpm: float, rng: np.random.Generator) -> float:
    return es.default_qt_ms(rate_bpm, float(rng.uniform(380, 440))) / 1000.0


def _base_params(rng: np.random.Generator, rate: float, **kw) -> es.TwelveLeadParams:
    """A normal 12-lead at `rate` with plausible random intervals and axis; `kw` overrides."""
    qt = _qt_s(rate, rng)
    base = dict(
        heart_rate=rate,
        pr_ms=float(rng.uniform(130, 190)),
        qrs_ms=float(rng.uniform(80, 100)),
        qt_ms=1000.0 * qt,
        axis_deg=float(rng.uniform(10, 65)),
        r_scale=float(rng.uniform(0.8, 1.2)),
        seed=int(rng.integers(1 << 31)),
    )
    return es.TwelveLeadParams(**{**base, **kw})


# --------------------------------------------------------------------------- beats and rhythms


def _templates(p: es.TwelveLeadParams) -> tuple[np.ndarray, np.ndarray]:
    """(P template, QRS-T template), each (8, samples) over _BASIS, cut from one noiseless beat of `p`."""
    qt = (p.qt_ms or es.default_qt_ms(p.heart_rate)) / 1000.0
    if qt > 0.75 or p.pr_ms > 350:
        raise ValueError("QT or PR too long for the template beat")
    clean = replace(p, heart_rate=TEMPLATE_RATE, rhythm="sinus", pvc_every=None, noise_mv=0.0, wander_mv=0.0)
    ecg = es.generate_12lead(clean)
    basis = np.stack([ecg.clean[ld] for ld in _BASIS])
    onset = min(ecg.qrs_onsets, key=lambda o: abs(o - 5.0))
    i_on = int(round(onset * FS))
    i_p = int(round((onset - p.pr_ms / 1000.0 - P_LEAD_S) * FS))
    p_tpl = basis[:, i_p:i_on - int(QRS_LEAD_S * FS)]
    qrst = basis[:, i_on - int(QRS_LEAD_S * FS):i_on + int((qt + 0.03) * FS)]
    return p_tpl.copy(), qrst.copy()


def _add_waves(qrst: np.ndarray, waves: list[Wave]) -> np.ndarray:
    """The QRS-T template with `waves` added (ecgsynth's wave shape, so they look like its own waves)."""
    t = np.arange(qrst.shape[1]) / FS - QRS_LEAD_S
    out = qrst.copy()
    for w in waves:
        out += w.amps[:, None] * es._bump(t, w.start_s, w.dur_s, 1.0, skew=w.skew, power=w.power)[None, :]
    return out


def _compose(p_tpl: np.ndarray, qrst: np.ndarray, rhythm: Rhythm) -> np.ndarray:
    """(8, N): the templates laid down at the rhythm's P and QRS onsets, cut to the page's 10 s."""
    n0 = int(PRE_S * FS)
    total = np.zeros((8, n0 + N + int(POST_S * FS) + qrst.shape[1]))
    for tpl, times, lead in ((p_tpl, rhythm.p_onsets, P_LEAD_S), (qrst, rhythm.qrs_onsets, QRS_LEAD_S)):
        for t in times:
            i = n0 + int(round((t - lead) * FS))
            if 0 <= i <= total.shape[1] - tpl.shape[1]:
                total[:, i:i + tpl.shape[1]] += tpl
    return total[:, n0:n0 + N]


def _beat_times(rate: float, rng: np.random.Generator) -> np.ndarray:
    """Regular times at `rate` (0.4 % jitter, like ecgsynth's sinus) covering the page and its margins."""
    rr = 60.0 / rate
    n = int((PRE_S + DURATION_S + POST_S) / rr) + 2
    return -PRE_S + rng.uniform(0.1, 0.6) + np.cumsum(rr * (1 + rng.normal(0, 0.004, n)))


def _sinus(rate: float, pr_s: float, rng: np.random.Generator) -> Rhythm:
    qrs = _beat_times(rate, rng)
    return Rhythm(p_onsets=qrs - pr_s, qrs_onsets=qrs)


def _second_degree(atrial_rate: float, pr_s: float, rng: np.random.Generator) -> Rhythm:
    """Mobitz I (PR lengthening to a dropped beat) or Mobitz II (fixed PR, a dropped beat), 3:2 or 4:3."""
    p = _beat_times(atrial_rate, rng)
    cycle = int(rng.choice([3, 4]))
    pos = np.arange(len(p)) % cycle
    conducted = pos != cycle - 1
    if rng.random() < 0.5:  # Wenckebach: the PR lengthens by decreasing steps
        steps = np.array([0.0, 0.12, 0.18])[:cycle - 1]
        pr = pr_s + steps[np.minimum(pos, cycle - 2)]
    else:
        pr = np.full(len(p), pr_s)
    return Rhythm(p_onsets=p, qrs_onsets=(p + pr)[conducted])


def _complete_block(atrial_rate: float, escape_rate: float, rng: np.random.Generator) -> Rhythm:
    """P waves and an escape rhythm that ignore each other."""
    return Rhythm(p_onsets=_beat_times(atrial_rate, rng), qrs_onsets=_beat_times(escape_rate, rng))


# --------------------------------------------------------------------------- kinds


@dataclass(frozen=True)
class Recipe:
    """How one example is made: generator parameters, plus (composed kinds) a rhythm and added waves."""

    params: es.TwelveLeadParams
    rhythm: Rhythm | None = None  # None: ecgsynth's own rhythm (AF, PVCs)
    waves: tuple[Wave, ...] = ()  # added to the composed QRS-T (composed kinds only)


def _hyperacute_t(p: es.TwelveLeadParams, amps: np.ndarray) -> Wave:
    start, dur = _t_window(p.qrs_ms / 1000.0, p.qt_ms / 1000.0)
    return Wave(start, dur, amps, skew=1.36, power=1.6)


def _acute_mi(territory: str, rng: np.random.Generator) -> Recipe:
    """ST elevation in the territory's contiguous leads, reciprocal depression, hyperacute T half the time."""
    m = float(rng.uniform(0.18, 0.45))
    if territory == "anterior":  # LAD: V1-V4, the superior ST vector depresses III and aVF
        st = {"V1": 0.5 * m, "V2": m, "V3": m, "V4": 0.7 * m}
        st.update(es.st_vector(float(rng.uniform(-80, -60)), float(rng.uniform(0.13, 0.22))))
        t_amps = _prec(V2=1.0, V3=1.0, V4=0.8)
    elif territory == "inferior":  # RCA: II, III, aVF, reciprocal in aVL (and I)
        st = es.st_vector(float(rng.uniform(100, 120)), m)
        if rng.random() < 0.5:  # posterior extension
            st.update({"V1": -0.4 * m, "V2": -0.5 * m, "V3": -0.3 * m})
        t_amps = _limb(110.0, 1.0)
    else:  # circumflex / diagonal: I, aVL, V5, V6, reciprocal in III
        st = es.st_vector(float(rng.uniform(-30, -10)), m)
        st.update({"V5": 0.7 * m, "V6": 0.6 * m})
        t_amps = _limb(-20.0, 0.8) + _prec(V5=1.0, V6=0.8)
    p = _base_params(rng, float(rng.uniform(55, 110)), st_mv={k: round(v, 4) for k, v in st.items()})
    waves = (_hyperacute_t(p, float(rng.uniform(0.3, 0.6)) * t_amps),) if rng.random() < 0.5 else ()
    return Recipe(p, _sinus(p.heart_rate, p.pr_ms / 1000.0, rng), waves)


def _old_mi(territory: str, rng: np.random.Generator) -> Recipe:
    """Pathological Q waves (>= 40 ms) in the territory, T inversion in some, no acute ST elevation."""
    w = float(rng.uniform(40, 55))
    depth = float(rng.uniform(0.3, 0.6))
    if territory == "anterior":  # Q V1-V3 (V4): the lost R waves are the poor R progression
        names = ("V1", "V2", "V3", "V4") if rng.random() < 0.5 else ("V1", "V2", "V3")
        q = {ld: (-depth * float(rng.uniform(0.7, 1.0)), w) for ld in names}
        t_inv = ("V2", "V3", "V4")
    elif territory == "inferior":
        vec = es.st_vector(float(rng.uniform(95, 110)), -depth)
        q = {ld: (vec[ld], w) for ld in ("II", "III", "aVF")}
        t_inv = ("III", "aVF")
    else:
        vec = es.st_vector(float(rng.uniform(-40, -20)), -depth)
        q = {ld: (vec[ld], w) for ld in ("I", "aVL")}
        q.update({"V5": (-0.8 * depth, w), "V6": (-0.7 * depth, w)})
        t_inv = ("I", "aVL", "V5", "V6")
    p = _base_params(rng, float(rng.uniform(55, 95)), q_waves=q, t_invert=t_inv if rng.random() < 0.6 else ())
    return Recipe(p, _sinus(p.heart_rate, p.pr_ms / 1000.0, rng))


def _bbb(side: str, rng: np.random.Generator) -> Recipe:
    """Right or left bundle branch block: QRS 125-160 ms with its terminal or lateral forces, discordant T."""
    qrs_ms = float(rng.uniform(125, 160))
    qrs = qrs_ms / 1000.0
    rate = float(rng.uniform(60, 95))
    late = (0.55 * qrs, 0.45 * qrs)  # the last part of the QRS: delayed activation of the blocked side
    if side == "right":  # rSR' in V1, slurred S in I and V5-V6, T inverted V1-V3
        p = _base_params(rng, rate, qrs_ms=qrs_ms, t_invert=("V1", "V2", "V3"))
        amps = _prec(V1=float(rng.uniform(1.3, 1.8)), V2=float(rng.uniform(0.8, 1.2)),
                     V5=-float(rng.uniform(0.3, 0.5)), V6=-float(rng.uniform(0.3, 0.5)))
        amps += _limb(180.0, float(rng.uniform(0.3, 0.5)))
    else:  # QS in V1-V3, broad notched R in I, aVL, V5-V6, discordant ST-T
        qs = {ld: (-float(rng.uniform(0.6, 1.2)), 0.8 * qrs_ms) for ld in ("V1", "V2", "V3")}
        st = {"V1": 0.1, "V2": float(rng.uniform(0.1, 0.25)), "V3": float(rng.uniform(0.1, 0.2)),
              "V5": -0.05, "V6": -0.05}
        p = _base_params(rng, rate, qrs_ms=qrs_ms, q_waves=qs, st_mv=st, axis_deg=float(rng.uniform(-30, 40)),
                         t_invert=("I", "aVL", "V5", "V6"))
        amps = _prec(V5=float(rng.uniform(0.5, 0.9)), V6=float(rng.uniform(0.5, 0.9)))
        amps += _limb(-10.0, float(rng.uniform(0.4, 0.7)))
    return Recipe(p, _sinus(rate, p.pr_ms / 1000.0, rng), (Wave(*late, amps),))


def _av_block(degree: str, rng: np.random.Generator) -> Recipe:
    if degree == "first":
        p = _base_params(rng, float(rng.uniform(55, 90)), pr_ms=float(rng.uniform(220, 280)))
        return Recipe(p, _sinus(p.heart_rate, p.pr_ms / 1000.0, rng))
    if degree == "second":
        atrial = float(rng.uniform(65, 95))
        p = _base_params(rng, atrial, pr_ms=float(rng.uniform(150, 200)))
        return Recipe(p, _second_degree(atrial, p.pr_ms / 1000.0, rng))
    escape = float(rng.uniform(30, 45))  # junctional (narrow) or ventricular (wide) escape
    p = _base_params(rng, escape, qrs_ms=float(rng.choice([rng.uniform(80, 100), rng.uniform(130, 160)])))
    return Recipe(p, _complete_block(float(rng.uniform(65, 100)), escape, rng))


def _early_repol(rng: np.random.Generator) -> Recipe:
    """Concave ST elevation V2-V5 without reciprocal depression, a J notch, tall T waves."""
    e = float(rng.uniform(0.12, 0.25))
    st = {"V2": e, "V3": e, "V4": 0.9 * e, "V5": 0.6 * e}
    st.update(es.st_vector(float(rng.uniform(60, 80)), float(rng.uniform(0.0, 0.08))))
    p = _base_params(rng, float(rng.uniform(60, 85)), st_mv={k: round(v, 4) for k, v in st.items()})
    qrs = p.qrs_ms / 1000.0
    notch_amps = _prec(V3=0.5, V4=1.0, V5=1.0, V6=0.7) + _limb(70, 1.0)
    notch = Wave(qrs - 0.01, 0.03, float(rng.uniform(0.1, 0.2)) * notch_amps)
    tall_t = _hyperacute_t(p, float(rng.uniform(0.15, 0.3)) * _prec(V2=1.0, V3=1.0, V4=1.0, V5=0.6))
    return Recipe(p, _sinus(p.heart_rate, p.pr_ms / 1000.0, rng), (notch, tall_t))


def _sinus_recipe(rng: np.random.Generator, rate: tuple[float, float], **kw) -> Recipe:
    p = _base_params(rng, float(rng.uniform(*rate)), **kw)
    return Recipe(p, _sinus(p.heart_rate, p.pr_ms / 1000.0, rng))


def recipe(kind: str, rng: np.random.Generator) -> Recipe:
    """The random recipe of one example of `kind` (see KINDS)."""
    if kind.startswith("acute_mi_"):
        return _acute_mi(kind.removeprefix("acute_mi_"), rng)
    if kind.startswith("old_mi_"):
        return _old_mi(kind.removeprefix("old_mi_"), rng)
    if kind.startswith("av_block_"):
        return _av_block(kind.removeprefix("av_block_"), rng)
    if kind in ("rbbb", "lbbb"):
        return _bbb("right" if kind == "rbbb" else "left", rng)
    if kind == "af":
        return Recipe(_base_params(rng, float(rng.uniform(70, 150)), rhythm="af"))
    if kind == "pvc":
        return Recipe(_base_params(rng, float(rng.uniform(60, 95)), pvc_every=int(rng.integers(3, 6))))
    if kind == "early_repol":
        return _early_repol(rng)
    ranges = {"normal": (60, 95), "tachy": (105, 150), "brady": (38, 55), "lvh": (60, 90)}
    if kind not in ranges:
        raise ValueError(f"unknown kind {kind!r}")
    if kind == "lvh":  # Sokolow-Lyon voltage: S V1 + R V5 ~ 3.5-5 mV, left-ish axis
        return _sinus_recipe(rng, ranges[kind], r_scale=float(rng.uniform(1.9, 2.5)),
                             axis_deg=float(rng.uniform(-15, 45)))
    if kind == "tachy":
        return _sinus_recipe(rng, ranges[kind], pr_ms=float(rng.uniform(120, 160)))
    return _sinus_recipe(rng, ranges[kind])


# --------------------------------------------------------------------------- signals


def _clean_basis(r: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """((8, N) noiseless basis leads, QRS onsets inside the page)."""
    if r.rhythm is None:
        ecg = es.generate_12lead(replace(r.params, noise_mv=0.0, wander_mv=0.0))
        return np.stack([ecg.clean[ld] for ld in _BASIS]), np.asarray(ecg.qrs_onsets)
    p_tpl, qrst = _templates(r.params)
    qrst = _add_waves(qrst, list(r.waves))
    q = r.rhythm.qrs_onsets
    return _compose(p_tpl, qrst, r.rhythm), q[(q >= 0) & (q < DURATION_S)]


def _finish(basis: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Gain error, baseline wander and noise on the basis leads; then all twelve leads."""
    t = np.arange(basis.shape[1]) / FS
    x = basis * rng.uniform(0.9, 1.1)
    wander = rng.uniform(0.0, 0.05)
    for k in range(len(x)):
        phase = rng.uniform(0, 2 * np.pi)
        x[k] += wander * rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(0.15, 0.5) * t + phase)
    x += rng.normal(0.0, rng.uniform(0.0, 0.02), size=x.shape)
    leads = es.limb_from_basis(x[0], x[1])
    leads.update({ld: x[_ROW[ld]] for ld in es.PRECORDIAL_LEADS})
    return {ld: leads[ld].astype(np.float32) for ld in L.LEADS}


def _rate(qrs_onsets: np.ndarray) -> float:
    rr = np.diff(np.sort(qrs_onsets))
    return float(60.0 / rr.mean()) if len(rr) else 0.0


def label_vector(kind: str, heart_rate: float) -> np.ndarray:
    """Multi-hot over LABELS: the kind's own labels, the rate's, and "normal" when nothing else is wrong."""
    names = set(KIND_LABELS[kind])
    if heart_rate > TACHY_BPM:
        names.add("tachy")
    if heart_rate < BRADY_BPM:
        names.add("brady")
    names.discard("normal")
    if names <= set(NORMAL_VARIANTS):
        names.add("normal")
    return np.array([ld in names for ld in LABELS], np.float32)


def product_class(labels: np.ndarray) -> str:
    """The product's class (inference.labels.LABELS) of a multi-hot label vector: MI first, then old MI,
    then any rhythm or conduction abnormality; normal variants are normal."""
    on = {name for name, v in zip(LABELS, labels) if v >= 0.5}
    if "acute_mi" in on:
        return "myocardial_infarction"
    if "old_mi" in on:
        return "history_of_mi"
    if on & set(ABNORMAL_RHYTHM):
        return "abnormal_heartbeat"
    return "normal"


def to_digitized(leads: dict[str, np.ndarray], rhythm_lead: str = "II") -> Digitized:
    """The 10 s leads cut like the printout: lead c of each row covers c*2.5..(c+1)*2.5 s, plus the strip."""
    seg = int(L.SEGMENT_S * FS)
    out = {}
    for name in L.LEADS:
        _, c, start = L.lead_window(name)
        x = np.asarray(leads[name][c * seg:(c + 1) * seg], np.float32)
        out[name] = LeadSignal(name, start, x, float(np.isfinite(x).mean()), 1.0, True)
    strip = np.asarray(leads[rhythm_lead], np.float32)
    return Digitized(leads=out, rhythm=LeadSignal("rhythm", 0.0, strip, 1.0, 1.0, True), rhythm_lead=rhythm_lead)


def generate(kind: str, seed: int) -> Example:
    """One labelled example of `kind` (see KINDS); the same (kind, seed) always gives the same example."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    r = recipe(kind, rng)
    basis, qrs_onsets = _clean_basis(r)
    leads = _finish(basis, rng)
    rate = _rate(qrs_onsets)
    rhythm_lead = "II" if rng.random() < 0.75 else "III"  # the strips of the product's pages
    return Example(kind, leads, to_digitized(leads, rhythm_lead), label_vector(kind, rate), rate)


def _with_gap(d: Digitized, rng: np.random.Generator) -> Digitized:
    """One lead (or the strip) with an untraced span of 0.1-0.8 s, as the digitizer leaves them."""
    name = str(rng.choice(L.LEADS + ("rhythm",)))
    lead = d.rhythm if name == "rhythm" else d.leads[name]
    x = lead.signal.copy()
    a = int(rng.integers(0, len(x)))
    x[a:a + int(rng.uniform(0.1, 0.8) * FS)] = np.nan
    gapped = replace(lead, signal=x, traced_fraction=float(np.isfinite(x).mean()))
    if name == "rhythm":
        return replace(d, rhythm=gapped)
    return replace(d, leads={**d.leads, name: gapped})


def dataset(n: int, seed: int = 0, gap_prob: float = 0.2) -> tuple[list[Digitized], np.ndarray, list[str]]:
    """(n digitized pages, (n, len(LABELS)) multi-hot labels, their kinds): the kinds in equal shares, in a
    seeded random order; a share `gap_prob` of the pages has an untraced span in one lead."""
    rng = np.random.default_rng(seed)
    kinds = [KINDS[i % len(KINDS)] for i in rng.permutation(n)]
    pages, labels = [], []
    for i, kind in enumerate(kinds):
        ex = generate(kind, seed * 1_000_003 + i)
        pages.append(_with_gap(ex.digitized, rng) if rng.random() < gap_prob else ex.digitized)
        labels.append(ex.labels)
    return pages, np.stack(labels) if labels else np.zeros((0, len(LABELS)), np.float32), kinds


def product_targets(labels: np.ndarray) -> np.ndarray:
    """(n,) indices into inference.labels.LABELS of multi-hot label rows."""
    return np.array([PRODUCT_LABELS.index(product_class(row)) for row in labels], dtype=np.int64)
