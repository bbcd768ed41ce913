"""Measurements read from a digitized 12-lead page: rate, rhythm, intervals, axis, ST, Q waves.

`measure(d)` is a pure function of a `signals.Digitized`. What it could not measure is None, never
made up. The method, step by step:

1. Beats. Every traced lead window (and the rhythm strip) is NaN-filled for filtering only, low-passed
   at 40 Hz, differentiated and normalised by its own high slope percentile (with an absolute floor so
   a flat, noise-only lead is not blown up). The |d/dt| of all traced windows are averaged sample by
   sample on the 10 s axis -- the four printed rows are simultaneous, so every QRS shows in all rows at
   once -- and the peaks of that slope energy (250 ms refractory period, threshold relative to the
   tallest peaks, T-wave double detections dropped, also a first detection that is the T wave of a beat
   just before the page) are the beats. The rhythm strip alone misses beats where it is flat or
   untraced; the energy of all rows does not.
2. Time base. Each beat's time is the centre of its slope energy (steadier than the highest peak or
   the strip's R tip, which jump between the humps of a wide or notched QRS), replaced by the strip's
   own time where the strip shows the beat clearly (its beats lined up on their median QRS by
   correlation; the energy's centre can sit a little differently column by column, the strip runs
   through all columns). R times = this time base moved by its median distance to the strip's R tips
   (the extreme of the strip's dominant QRS polarity within +-60 ms of the energy peak). RR, rate
   (60 / mean RR), RR CV, regularity and "irregularly irregular" (high RR variability without a
   repeating pattern: no strong autocorrelation at lags 1-4, not two alternating RR clusters) come
   from these times.
3. Median beats. Each signal's beats (the strip's, and the 1-4 of each lead's 2.5 s window) are lined
   up on their own QRS by correlation (+-30 ms: a photo's time base wanders along a row) before their
   NaN-aware median. Beats unlike the strip's template (ectopics) are left out when there are enough
   others.
4. Global QRS onset / offset from the spatial slope of all leads' median beats (root mean square of
   their derivatives, the steepest quarter of the leads left out sample by sample so that one lead a
   photo left out of step cannot stretch it): where it rises above / falls below a fraction of its
   peak, with a noise floor, sustained 10 ms. QRS = offset - onset (the global width clinicians
   measure). When the leads' QRS centres spread more than their shapes explain (interquartile range
   over 15 ms: a photo's time base, wrong by a different amount in each lead), the width is taken
   from the median beats shifted onto their common centre; onset and J stay those of the leads as
   printed.
5. T end by the tangent method (steepest T down-slope meets the PR baseline) on the rhythm strip's
   median beat, else the median over the leads with a clear T wave. QT = T end - QRS onset; QTc by
   Bazett and Fridericia from the mean RR.
6. P onset on the rhythm strip's median beat, else lead II's: the P wave is the largest deflection
   between the previous T end and the QRS onset; its onset is where it rises above 5 % of its height.
   PR = QRS onset - P onset. None when no clear P wave repeats beat after beat, and in an irregularly
   irregular rhythm (AF: fibrillation waves are no P waves).
7. Per lead: baseline = the PR segment (25-5 ms before the QRS onset) of its median beat; J = the
   global QRS offset; ST at J and J+60 ms against it (elevation positive); R, S and Q amplitudes in
   the QRS; Q width between the baseline crossings; T amplitude and polarity.
8. Axis: the net QRS areas of I, II and aVF (Einthoven: aVF = (sqrt 3 / 2) E sin(axis)) solved by
   least squares for the frontal vector; None when indeterminate.

Why not neurokit2 (measured with `python -m training.studies.neurokit_measure --pages 12 --photo`,
neurokit2 0.3.0 on the rhythm strip; times on the 2-core CPU shared with other work, where measure()
itself took 43-56 ms p50): `ecg_delineate(method="dwt")` costs 170-200 ms a strip p50 (up to 590 ms;
the whole reading has 500 ms) and puts the QRS onsets and offsets at wavelet extrema: QRS within 12 ms
on 0 of 12 pages (MAE 58 ms on the true signals and the scans). `method="prominence"` is fast (21-26
ms) but reads one lead: QRS within 12 ms on 0.58 of the true signals and scans (MAE 11-13 ms) against
1.00 (MAE 2 ms) here, QT MAE 22 against 11-13 ms, and it gives a PR in AF. `ecg_peaks` on the strip
finds the beats of 0.92 of the true pages (it misses beats in AF) against 1.00 for the slope energy
of all rows. On that day's phone photos the two are level on QRS (0.75 of pages within 12 ms; MAE 6
ms here, 10 ms neurokit2) and `ecg_peaks` on the strip got the rate within 3 bpm on 8 of 12 against
6 of 12: on photos whose lead rows lost their QRS complexes in the digitizer (T waves taken for beats
in all rows together). That is the digitizer's to fix, not a reason to give up the twelve leads.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

from inference import layout as L
from inference.signals import Digitized, LeadSignal

# --------------------------------------------------------------------------- constants

LOWPASS_HZ = 40.0
SLOPE_FLOOR_MV_S = 5.0  # a window whose high slopes are below this is treated as (nearly) flat
SLOPE_CLIP = 1.0  # one signal's slope counts at most this many times its 98.5th percentile (a jump of the trace)
REFRACTORY_S = 0.25
STRIP_MIN_QRS_MV = 0.15  # the strip's QRS must be this tall to refine R on it
PEAK_REL = 0.3  # a beat's slope energy is at least this share of the typical tallest peaks
PRE_S, POST_S = 0.45, 0.75  # median beat window around R
QRS_FRAC = 0.08  # QRS onset/offset: spatial slope below this share of its peak ...
QUIET_S = 0.010  # ... for this long
P_MIN_MV = 0.05
P_ONSET_FRAC = 0.05
T_MIN_MV = 0.08
ST_DELAY_S = 0.060
DEVIATION_MV = 0.1  # 1 mm at 10 mm/mV
REGULAR_CV = 0.08
IRREGULAR_CV = 0.10
GOOD_QUALITY = 0.5  # LeadSignal.quality at or above: "good" (if otherwise clean)
CENTROID_HALF_S = 0.08  # a beat's time: the centre of slope energy within this of it
OUT_OF_STEP_MS = 15.0  # leads whose QRS centres spread more than this (interquartile) are out of step
ALIGN_BEAT_S = 0.03  # a beat's shift against the median beat of its own signal, at most
ALIGN_MIN_CORR = 0.5  # a shift is taken only when the shifted shapes correlate at least this well
ALIGN_QRS_S = (0.10, 0.12)  # the QRS region compared: this long before and after the beat's time

# frontal-plane projections: lead value = g * E * cos(axis - phi)
_FRONTAL = {
    "I": (1.0, 0.0),
    "II": (1.0, 60.0),
    "aVF": (math.sqrt(3) / 2, 90.0),
}

_SOS = butter(2, LOWPASS_HZ / (L.FS / 2), output="sos")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LeadMeasures:
    quality: str  # "good" | "poor" | "untraced"
    st_mv: float | None = None  # at J + 60 ms against the PR baseline, elevation > 0
    st_j_mv: float | None = None  # at the J point
    q_mv: float | None = None  # Q depth (negative), None: no Q wave
    q_ms: float | None = None  # Q width
    pathological_q: bool = False
    r_mv: float | None = None  # R height (>= 0)
    s_mv: float | None = None  # S depth (<= 0)
    t_mv: float | None = None  # T wave peak (signed)
    t_polarity: str | None = None  # "positive" | "negative" | "flat" | "biphasic"
    n_beats: int = 0


@dataclass(frozen=True)
class Measurements:
    heart_rate_bpm: float | None
    rr_ms: tuple[float, ...]
    rr_cv: float | None
    rhythm_regular: bool | None
    irregularly_irregular: bool | None
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_bazett_ms: float | None
    qtc_fridericia_ms: float | None
    axis_deg: float | None
    r_peaks_s: tuple[float, ...]
    n_beats: int
    leads: dict[str, LeadMeasures]
    quality: dict[str, str]  # per global measure: "ok" | "low"

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return None if not math.isfinite(v) else v
            if isinstance(v, (np.floating, np.integer)):
                return clean(v.item())
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, LeadMeasures):
                return {k: clean(getattr(v, k)) for k in v.__dataclass_fields__}
            return v

        return {k: clean(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Finding:
    kind: str  # "st_elevation" | "st_depression" | "pathological_q"
    territory: str  # "inferior" | "anterior" | "lateral" | "other"
    leads: tuple[str, ...]
    max_mm: float


# --------------------------------------------------------------------------- helpers


def _fill(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(linearly NaN-filled float64 copy, valid mask); None if almost nothing is traced."""
    x = np.asarray(x, dtype=np.float64)
    valid = np.isfinite(x)
    if valid.sum() < 20:
        return None
    if valid.all():
        return x.copy(), valid
    idx = np.arange(len(x))
    return np.interp(idx, idx[valid], x[valid]), valid


def _lowpass(x: np.ndarray) -> np.ndarray:
    if len(x) <= 15:
        return x
    return sosfiltfilt(_SOS, x)


def _nanmedian(stack: np.ndarray) -> np.ndarray:
    """np.nanmedian(stack, axis=0) for a few beats by a few hundred samples, ten times faster: a sort
    puts the NaN last, the median is read at each column's own count of values. NaN where none."""
    s = np.sort(stack, axis=0)
    n = np.isfinite(stack).sum(axis=0)
    cols = np.arange(stack.shape[1])
    lo, hi = np.maximum((n - 1) // 2, 0), n // 2
    with np.errstate(invalid="ignore"):
        med = 0.5 * (s[lo, cols] + s[np.minimum(hi, len(s) - 1), cols])
    med[n == 0] = np.nan
    return med


def _nanmean(x: np.ndarray, axis: int | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


@dataclass
class _Seg:
    """One traced window placed on the 10 s axis: filtered mV with NaN where untraced."""

    name: str
    x: np.ndarray  # len n (10 s), NaN outside the window / where untraced
    i0: int
    i1: int
    quality: float


def _segment(name: str, lead: LeadSignal, n: int, fs: int) -> _Seg | None:
    if lead is None or not lead.ok:
        return None
    filled = _fill(lead.signal)
    if filled is None:
        return None
    xf, valid = filled
    xf = _lowpass(xf)
    xf[~valid] = np.nan
    i0 = int(round(lead.start_s * fs))
    i1 = min(n, i0 + len(xf))
    if i1 <= i0:
        return None
    out = np.full(n, np.nan)
    out[i0:i1] = xf[: i1 - i0]
    return _Seg(name, out, i0, i1, lead.quality)


# --------------------------------------------------------------------------- beats


def _slope_energy(segs: list[_Seg], n: int, fs: int) -> np.ndarray:
    num = np.zeros(n)
    den = np.zeros(n)
    for s in segs:
        x = s.x[s.i0:s.i1]
        valid = np.isfinite(x)
        if valid.sum() < 20:
            continue
        xi = np.where(valid, x, 0.0)
        d = np.abs(np.diff(xi, prepend=xi[0])) * fs
        ok = valid & np.concatenate(([False], valid[1:] & valid[:-1]))
        d[~ok] = 0.0
        scale = max(float(np.percentile(d[ok], 98.5)), SLOPE_FLOOR_MV_S)
        num[s.i0:s.i1] += np.minimum(d / scale, SLOPE_CLIP)
        den[s.i0:s.i1] += ok
    e = np.divide(num, den, out=np.zeros(n), where=den > 0)
    k = max(1, int(0.02 * fs))
    return np.convolve(e, np.ones(k) / k, mode="same")


T_DELAY_MAX_S = 0.5  # a T wave's peak slope comes at most this long after its R wave's
T_ENERGY_RATIO = 0.85  # ... and is at most this steep against it
T_DELAY_MIN_S = 0.15
STRONG_REL = 0.6  # of the typical tallest peaks: a clear beat, whose RR says what is "too close"
T_WAVE_RATIO = 0.75  # a detection this much weaker than the one a T wave's delay before it: its T wave


def _detect(e: np.ndarray, fs: int) -> np.ndarray:
    pk, _ = find_peaks(e, distance=int(REFRACTORY_S * fs))
    if len(pk) == 0:
        return pk
    h = e[pk]
    top = np.sort(h)[::-1][: max(3, len(h) // 4)]
    ref = float(np.median(top))
    if ref <= 0:
        return pk[:0]
    pk = pk[h >= PEAK_REL * ref]
    # drop T-wave (or artefact) detections: a much smaller peak too close to a bigger one, "too close"
    # against the RR of the clear beats (a photo's blurred QRS lets every T wave through: the RR of all
    # detections would be halved); a T wave, a fixed short delay after its R, may be nearly as steep
    t_lo, t_hi = int(T_DELAY_MIN_S * fs), int(T_DELAY_MAX_S * fs)
    changed = True
    while changed and len(pk) > 2:
        changed = False
        strong = pk[e[pk] >= STRONG_REL * ref]
        med = float(np.median(np.diff(strong if len(strong) >= 3 else pk)))
        for i in range(len(pk) - 1):
            gap = pk[i + 1] - pk[i]
            if gap < 0.55 * med:
                a, b = e[pk[i]], e[pk[i + 1]]
                t_wave = b < T_WAVE_RATIO * a and t_lo <= gap <= t_hi
                if min(a, b) < 0.6 * max(a, b) or t_wave:
                    pk = np.delete(pk, i + 1 if b < a else i)
                    changed = True
                    break
    # the page's first detection may be the T wave of a beat just before the page (no R to pair it
    # with above): much weaker than the beats and too soon before the next one
    if len(pk) > 3:
        med_rr = float(np.median(np.diff(pk)))
        if e[pk[0]] < 0.6 * float(np.median(e[pk])) and pk[1] - pk[0] < 0.8 * med_rr:
            pk = pk[1:]
    return _repair_regular(_drop_alternate_t(pk, e, fs), e, fs)


def _drop_alternate_t(pk: np.ndarray, e: np.ndarray, fs: int) -> np.ndarray:
    """Every other detection a T wave (a faint photo's QRS barely steeper than its T): peaks that
    alternate strong-weak at a fixed short delay after the strong one, the weak ones dropped. A PVC
    in bigeminy is at least as steep as the beat before it, so it is kept."""
    if len(pk) < 6:
        return pk
    for first in (0, 1):
        strong, weak = pk[first::2], pk[1 - first::2]
        pairs = [(s, w) for s in strong for w in weak if 0 < w - s <= T_DELAY_MAX_S * fs]
        if len(pairs) < max(3, 0.8 * (len(pk) // 2)):
            continue
        delay = np.array([w - s for s, w in pairs]) / fs
        weaker = np.mean([e[w] < T_ENERGY_RATIO * e[s] for s, w in pairs])
        rr = np.diff(strong) / fs
        if (delay.std() < 0.04 and delay.min() >= 0.15 and weaker >= 0.8
                and rr.std() < 0.15 * rr.mean() and np.median(rr) > 1.6 * np.median(delay)):
            return strong
    return pk


REGULAR_BAND = 0.15  # RRs within this share of each other are the same RR
MIN_USUAL = 3  # the usual RR: the one with the most RRs near it, at least this many
REGULAR_SHARE = 0.8  # share of the repaired RRs near the usual one: else the repair is not taken
SHORT_RR = 0.8  # of the usual RR: a gap this short may have a detection too many at one of its ends
RUN_FIT = 0.2  # short gaps that add up to this close (in usual RRs) to a whole number of RRs hold that many beats
MISSED_GAP = (1.7, 2.3)  # an RR this many times the usual, with a peak half way, holds a missed beat
MISSED_ENERGY = 0.15  # ... a peak at least this share of the beats' median slope energy


def _usual_rr(pk: np.ndarray) -> float | None:
    """The RR most RRs agree with (within REGULAR_BAND; the median of those), when at least MIN_USUAL do."""
    rr = np.diff(pk).astype(np.float64)
    if len(rr) < 4:
        return None
    near = np.abs(rr[None, :] - rr[:, None]) <= REGULAR_BAND * rr[:, None]
    k = int(near.sum(axis=1).argmax())
    return float(np.median(rr[near[k]])) if near[k].sum() >= MIN_USUAL else None


def _drop_extras(pk: np.ndarray, u: float) -> np.ndarray:
    """Detections in runs of short gaps that add up to whole usual RRs, thinned to that many beats."""
    rr = np.diff(pk)
    keep = np.ones(len(pk), bool)
    short = rr < SHORT_RR * u
    i = 0
    while i < len(rr):
        if not short[i]:
            i += 1
            continue
        # a stretch of short gaps from detection i: cut where they add up to a whole number m of RRs
        j, total = i, 0.0
        while j < len(rr) and short[j]:
            total += rr[j]
            m = int(round(total / u))
            if m >= 1 and abs(total - m * u) <= RUN_FIT * u:
                inner = np.arange(i + 1, j + 1)  # detections inside pk[i] .. pk[j + 1]
                keep[inner] = False
                for k in range(1, m):  # the detection nearest each evenly spaced place
                    keep[inner[int(np.argmin(np.abs(pk[inner] - (pk[i] + k * total / m))))]] = True
                break
            j += 1
        else:  # no whole RR: at the page's ends, a detection too soon before (after) a regular beat goes
            if i == 0 and j == 1 and len(rr) > 1 and abs(rr[1] - u) <= RUN_FIT * u:
                keep[0] = False
            if j == len(rr) and i == j - 1 and len(rr) > 1 and abs(rr[-2] - u) <= RUN_FIT * u:
                keep[-1] = False
            i = j
            continue
        i = j + 1
    return pk[keep]


def _add_missed(pk: np.ndarray, e: np.ndarray, u: float) -> np.ndarray:
    """A beat added half way into each gap of about two usual RRs that has a clear peak there."""
    level = float(np.median(e[pk]))
    out = [int(pk[0])]
    for a, b in zip(pk[:-1], pk[1:]):
        gap = b - a
        if MISSED_GAP[0] * u <= gap <= MISSED_GAP[1] * u:
            lo, hi = int(a + 0.35 * gap), int(a + 0.65 * gap)
            k = lo + int(np.argmax(e[lo:hi]))
            if e[k] >= MISSED_ENERGY * level and lo < k < hi - 1:
                out.append(k)
        out.append(int(b))
    return np.array(out, dtype=pk.dtype)


def _repair_regular(pk: np.ndarray, e: np.ndarray, fs: int) -> np.ndarray:
    """The odd extra or missed detection of a regular rhythm put right (`fs` unused: all in samples).

    Extra: short gaps (each under SHORT_RR usual RRs) that add up to a whole number m of RRs hold m - 1
    beats, not as many as were detected: the ones nearest even spacing are kept (a T wave, or the jump
    where a photo's column of leads meets the next: 11 beats read as 12 put the rate 9 % high and a
    sinus rhythm reads as irregular); so does a page's first (last) detection too soon before (after) a
    regular beat. A premature beat is kept: its pause is not short. Missed: a gap of about two usual RRs
    with a clear peak half way (a faint beat). The repair is taken only when it leaves the rhythm
    regular (REGULAR_SHARE of the RRs at the usual one): an irregular rhythm (atrial fibrillation) is
    left as found."""
    pk = np.asarray(pk)
    u = _usual_rr(pk)
    if u is None:
        return pk
    fixed = _drop_extras(pk, u)
    if len(fixed) >= 2:
        fixed = _add_missed(fixed, e, u)
    rr = np.diff(fixed)
    if len(rr) < 3 or np.mean(np.abs(rr - u) <= REGULAR_BAND * u) < REGULAR_SHARE:
        return pk
    return fixed


def _refine_on_strip(pk: np.ndarray, strip: _Seg | None, fs: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """R times refined on the rhythm strip: (indices, which of pk they are, refined_on_strip)."""
    every = np.ones(len(pk), bool)
    if strip is None or len(pk) == 0:
        return pk.copy(), every, False
    x = strip.x
    base = float(np.nanmedian(x))
    w = int(0.06 * fs)
    n = len(x)
    hi_vals, lo_vals, wins = [], [], []
    for p in pk:
        a, b = max(0, p - w), min(n, p + w + 1)
        seg = x[a:b] - base
        if np.isfinite(seg).mean() < 0.8:
            wins.append(None)
            continue
        wins.append((a, seg))
        hi_vals.append(np.nanmax(seg))
        lo_vals.append(-np.nanmin(seg))
    if not hi_vals or max(np.median(hi_vals), np.median(lo_vals)) < STRIP_MIN_QRS_MV:
        return pk.copy(), every, False  # no strip, or a strip too flat to time the R waves on
    sign = 1.0 if np.median(hi_vals) >= np.median(lo_vals) else -1.0
    r = np.full(len(pk), -1, dtype=int)
    amp = np.full(len(pk), np.nan)
    for i, wv in enumerate(wins):
        if wv is None:
            continue
        a, seg = wv
        k = int(np.nanargmax(sign * seg))
        r[i], amp[i] = a + k, sign * seg[k]
    have = r >= 0
    off = int(round(np.median(r[have] - pk[have])))
    r[~have] = pk[~have] + off
    # a complex cut by the page's start or end shows only part of its R wave: not a beat on the page
    near_edge = (r < int(0.1 * fs)) | (r > n - 1 - int(0.1 * fs))
    cut = have & near_edge & (amp < 0.5 * np.nanmedian(amp))
    return np.clip(r[~cut], 0, n - 1), ~cut, True


def _centroids(e: np.ndarray, pk: np.ndarray, fs: int) -> np.ndarray:
    """Each beat's centre of slope energy (a +-80 ms window moved onto its own centroid, three times).

    The energy's highest peak is a poor time mark for a wide or notched QRS: its several humps take
    turns at being the highest, depending on which leads are printed in that column; their centre
    of mass does not jump."""
    h = int(CENTROID_HALF_S * fs)
    c = pk.astype(np.float64)
    for _ in range(3):
        for i, ci in enumerate(c):
            a, b = max(0, int(round(ci)) - h), min(len(e), int(round(ci)) + h + 1)
            wgt = e[a:b]
            if wgt.sum() > 0:
                c[i] = float((np.arange(a, b) * wgt).sum() / wgt.sum())
    return np.round(c).astype(int)


def _rhythm_pattern(rr: np.ndarray) -> tuple[float | None, bool | None, bool | None]:
    if len(rr) < 2:
        return None, None, None
    cv = float(rr.std() / rr.mean())
    regular = bool(cv <= REGULAR_CV and np.max(np.abs(rr - np.median(rr))) <= 0.15 * np.median(rr))
    if len(rr) < 5:
        return cv, regular, None
    if cv < IRREGULAR_CV:
        return cv, regular, False
    # a repeating pattern (bigeminy, trigeminy, grouped beating, a breathing cycle of whole beats):
    # RR intervals k beats apart are much closer than random pairs, for some lag k of 1-5
    pair = float(np.abs(rr[:, None] - rr[None, :])[np.triu_indices(len(rr), 1)].mean())
    patterned = False
    for lag in range(1, min(5, len(rr) - 3) + 1):
        if float(np.mean(np.abs(rr[lag:] - rr[:-lag]))) < 0.35 * pair:
            patterned = True
    # two tight RR clusters (bigeminy / 2:1 - 3:2 conduction)
    srt = np.sort(rr)
    gaps = np.diff(srt)
    g = int(np.argmax(gaps))
    lo, hi = srt[: g + 1], srt[g + 1:]
    if len(lo) >= 2 and len(hi) >= 2:
        spread = max(lo.std(), hi.std())
        if gaps[g] > 4 * max(spread, 0.01 * rr.mean()):
            patterned = True
    return cv, regular, not patterned


# --------------------------------------------------------------------------- alignment


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a ** 2).sum() * (b ** 2).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def _beat_lags(x: np.ndarray, r: np.ndarray, fs: int) -> np.ndarray:
    """Per beat, the shift (samples) that lines its QRS up with the median QRS of the same signal.

    On a photo the time base wanders by a few pixels along a row (and the beat times, found on all
    rows together, inherit every row's error), so a signal's beats sit up to ~20 ms off the common
    beat times; their median beat would be smeared, its QRS widened. A beat keeps shift 0 when no
    shift matches the template well (noise, an ectopic) or its search range is not all traced."""
    w = int(ALIGN_BEAT_S * fs)
    n_t = int(ALIGN_QRS_S[0] * fs) + int(ALIGN_QRS_S[1] * fs)
    stk = _stack(x, r, int(ALIGN_QRS_S[0] * fs) + w, int(ALIGN_QRS_S[1] * fs) + w)
    lags = np.zeros(len(r), dtype=int)
    idx = np.where(np.isfinite(stk).all(axis=1))[0]
    if len(idx) < 2:
        return lags
    # every beat's QRS at every shift -w..w: (beats, shifts, samples), each window's mean removed
    win = np.lib.stride_tricks.sliding_window_view(stk[idx], n_t, axis=1)
    win = win - win.mean(axis=2, keepdims=True)
    norm = np.sqrt((win ** 2).sum(axis=2))
    k = np.zeros(len(idx), dtype=int)
    for _ in range(2):  # the template from the beats as lined up so far, twice
        tpl = np.median(win[np.arange(len(idx)), w + k], axis=0)
        tpl = tpl - tpl.mean()
        den = norm * float(np.sqrt((tpl ** 2).sum()))
        c = np.divide(win @ tpl, den, out=np.full(den.shape, -1.0), where=den > 0)
        best = np.argmax(c, axis=1)
        k = np.where(c[np.arange(len(idx)), best] >= ALIGN_MIN_CORR, best - w, 0)
        # the signal's beats stay centred on the common beat times
        k = np.clip(k - int(round(float(np.median(k)))), -w, w)
    lags[idx] = k
    return lags


# --------------------------------------------------------------------------- median beats


def _stack(x: np.ndarray, r: np.ndarray, pre: int, post: int) -> np.ndarray:
    n = len(x)
    out = np.full((len(r), pre + post), np.nan)
    for i, ri in enumerate(r):
        a, b = ri - pre, ri + post
        aa, bb = max(0, a), min(n, b)
        if bb > aa:
            out[i, aa - a: bb - a] = x[aa:bb]
    return out


def _core_covered(stack: np.ndarray, pre: int, fs: int) -> np.ndarray:
    w = int(0.06 * fs)
    return np.isfinite(stack[:, pre - w: pre + w]).all(axis=1)


def _spatial_bounds(meds: list[np.ndarray], pre: int, fs: int) -> tuple[int | None, int | None, float]:
    """Global QRS onset/offset (indices in the median-beat window) from the leads' slopes."""
    if not meds:
        return None, None, 0.0
    d2 = np.stack([np.gradient(m) * fs for m in meds]) ** 2
    if len(meds) >= 6:
        # the steepest quarter of the leads left out sample by sample: a lead a photo left ~20-40 ms
        # off in time, or a stroke artefact in one lead, does not stretch the QRS; activity that
        # several leads show still counts
        drop = len(meds) // 4
        d2 = np.sort(np.where(np.isfinite(d2), d2, -np.inf), axis=0)[: len(meds) - drop]
        d2[~np.isfinite(d2)] = np.nan
    s = np.sqrt(_nanmean(d2, axis=0))
    w = int(0.08 * fs)
    core = s[pre - w: pre + w]
    if not np.isfinite(core).any():
        return None, None, 0.0
    kp = pre - w + int(np.nanargmax(core))
    peak = float(s[kp])
    fin = s[np.isfinite(s)]
    noise = float(np.percentile(fin, 10)) if len(fin) else 0.0
    thr = max(QRS_FRAC * peak, 3.0 * noise)
    if peak <= 0 or thr >= 0.5 * peak:
        return None, None, 0.0
    quiet_n = max(2, int(QUIET_S * fs))

    def walk(step: int, limit: int) -> int | None:
        i, quiet = kp, 0
        while 0 < i < len(s) - 1 and abs(i - kp) < limit:
            i += step
            v = s[i]
            if not np.isfinite(v):
                return None
            quiet = quiet + 1 if v < thr else 0
            if quiet >= quiet_n:
                return i - step * (quiet - 1)
        return None

    on = walk(-1, int(0.16 * fs))
    off = walk(+1, int(0.22 * fs))
    return on, off, peak / max(noise, 1e-9)


def _qrs_centre(m: np.ndarray, pre: int, fs: int) -> float | None:
    """Where a median beat's QRS is (samples from the beat time): the centre of its |slope| above the
    window's median slope, within -100..+120 ms; None where the window is not all traced."""
    a, b = int(ALIGN_QRS_S[0] * fs), int(ALIGN_QRS_S[1] * fs)
    seg = m[pre - a: pre + b]
    if len(seg) != a + b or not np.isfinite(seg).all():
        return None
    g = np.abs(np.gradient(seg))
    g = np.clip(g - np.median(g), 0.0, None)
    total = float(g.sum())
    return float((np.arange(len(g)) * g).sum() / total) - a if total > 0 else None


def _in_step(meds: list[np.ndarray], pre: int, fs: int) -> list[np.ndarray] | None:
    """The median beats shifted onto their common QRS centre when they are out of step; None when in step.

    Leads differ in shape, so their QRS centres spread a little on any ECG (interquartile range at
    most 12 ms on the true signals of the rendered pages); a spread beyond OUT_OF_STEP_MS is the
    digitizer's time base, different lead by lead on a photo, and would stretch the global QRS."""
    cen = [(m, _qrs_centre(m, pre, fs)) for m in meds]
    cen = [(m, c) for m, c in cen if c is not None]
    if len(cen) < 4:
        return None
    cs = np.array([c for _, c in cen])
    if (np.percentile(cs, 75) - np.percentile(cs, 25)) / fs * 1000.0 <= OUT_OF_STEP_MS:
        return None
    mid = float(np.median(cs))
    out = []
    for m, c in cen:
        k = int(round(mid - c))
        s = np.full_like(m, np.nan)
        if k >= 0:
            s[k:] = m[: len(m) - k]
        else:
            s[:k] = m[-k:]
        out.append(s)
    return out


def _level(m: np.ndarray, a: int, b: int) -> float | None:
    a, b = max(0, a), min(len(m), b)
    if b <= a:
        return None
    seg = m[a:b]
    if np.isfinite(seg).mean() < 0.6:
        return None
    return float(np.nanmedian(seg))


def _largest_wave(m: np.ndarray, base: float, a: int, b: int, min_len: int,
                  min_mv: float) -> tuple[np.ndarray, int, float] | None:
    """The window m[a:b] against `base`, the index and amplitude of its largest deflection; None when
    the window is too short, not traced enough, or its largest deflection is below min_mv."""
    if b - a < min_len:
        return None
    y = m[a:b] - base
    if np.isfinite(y).mean() < 0.9:
        return None
    kp = int(np.nanargmax(np.abs(y)))
    amp = float(y[kp])
    if abs(amp) < min_mv:
        return None
    return y, kp, amp


def _t_end(m: np.ndarray, base: float, j: int, hi: int, fs: int) -> float | None:
    """T end (fractional index) by the tangent method; None without a clear T wave."""
    a = j + int(0.04 * fs)
    wave = _largest_wave(m, base, a, min(hi, len(m)), int(0.08 * fs), T_MIN_MV)
    if wave is None:
        return None
    y, kp, amp = wave
    if kp >= len(y) - 3:
        return None
    sgn = 1.0 if amp > 0 else -1.0
    tail = sgn * y[kp:]
    # the falling limb only: up to where the wave is down to 15 % (not the next P wave's slope)
    low = np.where(tail <= 0.15 * abs(amp))[0]
    if len(low) == 0:
        return None
    tail = tail[: int(low[0]) + 2]
    dy = np.gradient(tail)
    if not np.isfinite(dy).any():
        return None
    k = int(np.nanargmin(dy))
    slope = float(dy[k])
    if not slope < 0:
        return None
    end = kp + k - float(tail[k]) / slope
    if end > len(y) + int(0.05 * fs):
        return None
    return a + end


def _p_onset(m: np.ndarray, base: float, on: int, lo: int, fs: int) -> int | None:
    """P onset index before the QRS onset `on`; None without a clear, separate P wave."""
    b = on - int(0.02 * fs)
    lo = max(0, lo)
    wave = _largest_wave(m, base, lo, b, int(0.06 * fs), P_MIN_MV)
    if wave is None:
        return None
    y, kp, amp = wave
    z = np.sign(amp) * y
    thr = P_ONSET_FRAC * abs(amp)
    below = np.where(z[:kp] < thr)[0]
    if len(below) == 0:
        return None  # never back to baseline: merged with the previous T wave
    k = int(below[-1]) + 1
    if k < int(0.01 * fs):
        return None  # hugging the search start: not a separate P
    return lo + k


def _p_onset_beats(
    x: np.ndarray, r: np.ndarray, on: int, pre: int, tend: float | None, fs: int
) -> tuple[int | None, int, bool]:
    """(P onset index in the median-beat window, beats used, a P-like wave found) from the beats of a
    10 s signal whose P region is free of the previous T wave; the onset is None without a clear P
    wave in this signal (too small here: found False) or when the one found does not repeat beat
    after beat (AF: found True)."""
    win_lo = (on - pre) - int(0.30 * fs)  # relative to R
    tend_rel = (tend - pre) if tend is not None else 0.45 * fs
    need = tend_rel - win_lo + 0.02 * fs  # RR that keeps the previous T out of the P window
    sel = [i for i in range(len(r)) if (r[i] - r[i - 1] if i else r[0]) >= need]
    lo = on - int(0.30 * fs)
    if len(sel) < 2:
        sel = list(range(len(r)))
        if len(r) > 1:
            lo = max(lo, pre - int(np.min(np.diff(r))) + int(round(tend_rel)) + int(0.02 * fs))
    stk = _stack(x, r[sel], pre, on - pre + 1)
    stk = stk[np.isfinite(stk[:, lo: on]).all(axis=1)]
    if len(stk) < 2:
        return None, len(stk), False
    med = _nanmedian(stk)
    base = _level(med, on - int(0.025 * fs), on - int(0.005 * fs))
    if base is None:
        return None, len(stk), False
    po = _p_onset(med, base, on, lo, fs)
    if po is None:
        return None, len(stk), False
    # the P wave must repeat: each beat's P region resembles the median of the others
    a, b = po, on - int(0.02 * fs)
    cors = []
    for i in range(len(stk)):
        others = _nanmedian(np.delete(stk, i, axis=0)) if len(stk) > 2 else stk[1 - i]
        u, v = stk[i, a:b] - stk[i, a:b].mean(), others[a:b] - others[a:b].mean()
        den = float(np.sqrt((u ** 2).sum() * (v ** 2).sum()))
        cors.append(float((u * v).sum() / den) if den > 0 else 0.0)
    need_cor = 0.5 if len(stk) >= 3 else 0.7
    return (po if float(np.median(cors)) >= need_cor else None), len(stk), True


# --------------------------------------------------------------------------- per lead


def _lead_measures(
    name: str, m: np.ndarray | None, n_beats: int, q_lead: float, on: int | None, off: int | None,
    tend: float | None, rr_n: float | None, fs: int,
) -> tuple[LeadMeasures, float | None]:
    """(measures, net QRS area in mV*s)."""
    if m is None or n_beats == 0:
        return LeadMeasures(quality="untraced", n_beats=n_beats), None
    if on is None or off is None:
        return LeadMeasures(quality="poor", n_beats=n_beats), None
    base = _level(m, on - int(0.025 * fs), on - int(0.005 * fs))
    qrs = m[on: off + 1]
    if base is None or not np.isfinite(qrs).all():
        return LeadMeasures(quality="poor", n_beats=n_beats), None
    y = qrs - base
    quality = "good" if q_lead >= GOOD_QUALITY else "poor"

    def at(t_idx: float, half: int) -> float | None:
        i = int(round(t_idx))
        v = _level(m, i - half, i + half + 1)
        return None if v is None else v - base

    st_j = at(off, 1)
    st = at(off + ST_DELAY_S * fs, int(0.004 * fs))

    kr = int(np.argmax(y))
    r_mv = max(0.0, float(y[kr]))
    r_present = r_mv >= 0.05
    q_mv = q_ms = None
    s_mv = 0.0
    if r_present:
        pre_r = y[: kr + 1]
        kq = int(np.argmin(pre_r))
        if pre_r[kq] <= -0.03:
            q_mv = float(pre_r[kq])
            left = np.where(pre_r[:kq] >= 0.1 * q_mv)[0]  # back to baseline (within 10 % of depth)
            ql = int(left[-1]) + 1 if len(left) else 0
            right = np.where(pre_r[kq:] >= 0.0)[0]
            qr = kq + int(right[0]) if len(right) else kr
            q_ms = float((qr - ql) / fs * 1000.0)
        post_r = y[kr:]
        s_mv = min(0.0, float(np.min(post_r)))
    else:
        # QS complex: the whole QRS is negative; the Q is its width and depth
        kq = int(np.argmin(y))
        if y[kq] <= -0.1:
            q_mv = float(y[kq])
            neg = np.where(y < 0.1 * q_mv)[0]
            q_ms = float((neg[-1] - neg[0] + 1) / fs * 1000.0)
        s_mv = 0.0
    pathological = False
    if q_mv is not None and name != "aVR":
        wide = q_ms is not None and q_ms >= 40.0 and q_mv <= -0.05
        deep = q_mv <= -0.1 and abs(q_mv) >= 0.25 * r_mv
        pathological = bool(wide or deep)

    # T wave
    t_mv = t_pol = None
    t_hi = int(round(tend)) if tend is not None else off + int(min(0.45, 0.6 * (rr_n or 1.0) / fs) * fs)
    a = off + int(0.06 * fs)
    t_hi = min(t_hi + int(0.01 * fs), len(m))
    if t_hi - a > int(0.04 * fs):
        ty = m[a:t_hi] - base
        if np.isfinite(ty).mean() >= 0.9:
            pos, neg = float(np.nanmax(ty)), float(np.nanmin(ty))
            t_mv = pos if pos >= -neg else neg
            big = max(pos, -neg)
            if big < 0.05:
                t_pol = "flat"
            elif pos >= 0.05 and -neg >= 0.05 and min(pos, -neg) >= 0.4 * big:
                t_pol = "biphasic"
            else:
                t_pol = "positive" if t_mv > 0 else "negative"

    area = float(np.sum(y) / fs)
    lm = LeadMeasures(
        quality=quality,
        st_mv=st,
        st_j_mv=st_j,
        q_mv=q_mv,
        q_ms=q_ms,
        pathological_q=pathological,
        r_mv=r_mv,
        s_mv=s_mv,
        t_mv=t_mv,
        t_polarity=t_pol,
        n_beats=n_beats,
    )
    return lm, area


def _axis(areas: dict[str, float]) -> float | None:
    rows, vals = [], []
    for name, (g, phi) in _FRONTAL.items():
        a = areas.get(name)
        if a is None:
            continue
        rows.append((g * math.cos(math.radians(phi)), g * math.sin(math.radians(phi))))
        vals.append(a)
    if len(rows) < 2:
        return None
    A = np.asarray(rows)
    sol, *_ = np.linalg.lstsq(A, np.asarray(vals), rcond=None)
    mag = float(np.hypot(*sol))
    scale = float(np.mean(np.abs(vals))) if vals else 0.0
    if mag < 1e-4 or (scale > 0 and mag < 0.15 * scale):
        return None  # net vector too small against the deflections: indeterminate
    ang = math.degrees(math.atan2(sol[1], sol[0]))
    return float((ang + 180.0) % 360.0 - 180.0)


# --------------------------------------------------------------------------- measure


def _none_result(leads: dict[str, LeadMeasures], quality: dict[str, str]) -> Measurements:
    return Measurements(
        heart_rate_bpm=None, rr_ms=(), rr_cv=None, rhythm_regular=None, irregularly_irregular=None,
        pr_ms=None, qrs_ms=None, qt_ms=None, qtc_bazett_ms=None, qtc_fridericia_ms=None, axis_deg=None,
        r_peaks_s=(), n_beats=0, leads=leads, quality=quality,
    )


def measure(d: Digitized) -> Measurements:
    fs = int(d.fs)
    n = int(round(L.DURATION_S * fs))
    lead_segs: dict[str, _Seg] = {}
    for name in L.LEADS:
        s = _segment(name, d.leads.get(name), n, fs)
        if s is not None:
            lead_segs[name] = s
    strip = _segment("rhythm", d.rhythm, n, fs) if d.rhythm is not None else None
    segs = list(lead_segs.values()) + ([strip] if strip is not None else [])
    q_keys = ("heart_rate", "rhythm", "pr", "qrs", "qt", "axis")
    # nothing measurable: traced leads are "poor", the others "untraced"
    untraced = {name: LeadMeasures(quality="poor" if name in lead_segs else "untraced") for name in L.LEADS}
    if not segs:
        return _none_result(untraced, {k: "low" for k in q_keys})

    # 1. beats
    e = _slope_energy(segs, n, fs)
    pk = _detect(e, fs)
    tip, kept, on_strip = _refine_on_strip(pk, strip, fs)
    # a complex cut by the start or end of the page: its peak is not on the page
    edge = int(0.006 * fs)
    use = (tip >= edge) & (tip < n - edge)
    use[1:] &= np.diff(tip) > 0
    tip, frame = tip[use], _centroids(e, pk[kept][use], fs)
    if len(tip) < 2:
        return _none_result(untraced, {k: "low" for k in q_keys})

    # 2. one time base for every signal: the centre of the beats' slope energy (a consensus of the
    # four rows' time bases), replaced by the strip's own time where the strip shows the beat clearly
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    keep = np.ones(len(frame), bool)
    base = frame
    xs = {name: s.x for name, s in lead_segs.items()}
    times: dict[str, np.ndarray] = {}
    if strip is not None:
        strip_t = frame + _beat_lags(strip.x, frame, fs)
        st_stack = _stack(strip.x, strip_t, pre, post)
        core = _core_covered(st_stack, pre, fs)
        if core.any():
            tpl = _nanmedian(st_stack[core])
            w = int(0.08 * fs)
            corr = np.array([_corr(st_stack[i, pre - w: pre + w], tpl[pre - w: pre + w]) if core[i] else np.nan
                             for i in range(len(frame))])
            like = core & (corr >= 0.8)
            # leave out beats unlike the template (ectopics) when enough others remain
            if (core & ~like).any() and like.sum() >= 3:
                keep = ~(core & ~like)
            # the energy's centre can sit a little differently column by column (other leads are
            # printed there); the strip runs through all columns
            if like.sum() >= 3:
                off = int(round(float(np.median(strip_t[like] - frame[like]))))
                base = np.where(like, strip_t, frame + off)
            xs["rhythm"], times["rhythm"] = strip.x, strip_t[keep]
    # R times: the time base moved by its typical distance to the strip's R tips (a photo's R tips
    # jitter by a few pixels beat to beat: enough to make a sinus rhythm look irregular)
    r = base + int(round(float(np.median(tip - base))))
    rr = np.diff(r) / fs
    rr_mean = float(rr.mean())
    hr = 60.0 / rr_mean
    cv, regular, irr = _rhythm_pattern(rr)

    # 3. median beats: each signal's beats lined up on its own QRS
    for name, s in lead_segs.items():
        t = base[keep]
        if not _core_covered(_stack(s.x, t, pre, post), pre, fs).any():
            t = base  # every beat of this lead's window left out as unlike the strip's: take them after all
        times[name] = t + _beat_lags(s.x, t, fs)
    meds: dict[str, np.ndarray] = {}
    nbeats: dict[str, int] = {}
    for name, t in times.items():
        stk = _stack(xs[name], t, pre, post)
        core = _core_covered(stk, pre, fs)
        nbeats[name] = int(core.sum())
        if core.any():
            meds[name] = _nanmedian(stk[core])
    strip_med = meds.pop("rhythm", None)
    strip_beats = nbeats.pop("rhythm", 0)

    # 4. global QRS onset/offset
    all_meds = list(meds.values()) + ([strip_med] if strip_med is not None else [])
    on, off, snr = _spatial_bounds(all_meds, pre, fs)
    qrs_ms = (off - on) / fs * 1000.0 if on is not None and off is not None else None
    stepped = _in_step(all_meds, pre, fs)
    if stepped is not None:
        # leads out of step (a photo's time base, lead by lead): the width of the complexes lined up
        # on their centres; onset and J stay those of the leads as printed, for PR, QT and the ST
        # levels, so that no lead's late QRS is read as its ST
        on_a, off_a, snr = _spatial_bounds(stepped, pre, fs)
        qrs_ms = (off_a - on_a) / fs * 1000.0 if on_a is not None and off_a is not None else None

    # 5. T end / QT
    rr_n = rr_mean * fs
    t_hi = pre + int(min(0.7 * fs, 0.8 * rr_n))
    tend = None
    tend_src = None
    if off is not None and on is not None:
        if strip_med is not None:
            sb = _level(strip_med, on - int(0.025 * fs), on - int(0.005 * fs))
            if sb is not None:
                tend = _t_end(strip_med, sb, off, t_hi, fs)
                tend_src = "strip" if tend is not None else None
        if tend is None:
            ends = []
            for m in meds.values():
                b = _level(m, on - int(0.025 * fs), on - int(0.005 * fs))
                if b is None:
                    continue
                te = _t_end(m, b, off, t_hi, fs)
                if te is not None:
                    ends.append(te)
            if ends:
                tend = float(np.median(ends))
                tend_src = "leads"
    qt_ms = (tend - on) / fs * 1000.0 if tend is not None and on is not None else None
    if qt_ms is not None and not (150.0 <= qt_ms <= 750.0):
        qt_ms = None
    qtc_b = qt_ms / math.sqrt(rr_mean) if qt_ms is not None else None
    qtc_f = qt_ms / rr_mean ** (1.0 / 3.0) if qt_ms is not None else None

    # 6. P onset / PR; none in an irregularly irregular rhythm: fibrillation waves are no P waves, and
    # a P wave that does not conduct at a fixed interval has no PR to report
    pr_ms = None
    pr_src = None
    if on is not None and not irr:
        cands = []
        if strip_med is not None:
            cands.append(("strip", "rhythm"))
        if "II" in times:
            cands.append(("II", "II"))
        for src, key in cands:
            po, used, found = _p_onset_beats(xs[key], times[key], on, pre, tend, fs)
            if po is not None:
                pr_ms = (on - po) / fs * 1000.0
                pr_src = src
                break
            if found and used >= 3:
                break  # enough beats and a P-like wave that does not repeat: none, not another lead's guess
        if pr_ms is not None and not (60.0 <= pr_ms <= 400.0):
            pr_ms = None

    # 7. per lead
    leads: dict[str, LeadMeasures] = {}
    areas: dict[str, float] = {}
    for name in L.LEADS:
        s = lead_segs.get(name)
        lm, area = _lead_measures(
            name, meds.get(name), nbeats.get(name, 0), s.quality if s else 0.0, on, off, tend, rr_n, fs
        )
        leads[name] = lm
        if area is not None and lm.quality != "untraced":
            areas[name] = area
    leads = _contextual_q(leads)

    # 8. axis
    axis = _axis(areas)

    n_rows = sum(1 for s in segs)
    quality = {
        "heart_rate": "ok" if len(r) >= 3 and (on_strip or n_rows >= 6) else "low",
        "rhythm": "ok" if len(rr) >= 5 else "low",
        "qrs": "ok" if qrs_ms is not None and len(all_meds) >= 6 and snr >= 20 else "low",
        "qt": "ok" if qt_ms is not None and tend_src == "strip" and strip_beats >= 3 else "low",
        "pr": "ok" if pr_ms is not None and pr_src == "strip" and strip_beats >= 3 else "low",
        "axis": "ok" if axis is not None and all(k in areas for k in ("I", "aVF")) else "low",
    }
    return Measurements(
        heart_rate_bpm=float(hr),
        rr_ms=tuple(float(v * 1000.0) for v in rr),
        rr_cv=cv,
        rhythm_regular=regular,
        irregularly_irregular=irr,
        pr_ms=pr_ms,
        qrs_ms=qrs_ms,
        qt_ms=qt_ms,
        qtc_bazett_ms=qtc_b,
        qtc_fridericia_ms=qtc_f,
        axis_deg=axis,
        r_peaks_s=tuple(float(v / fs) for v in r),
        n_beats=int(len(r)),
        leads=leads,
        quality=quality,
    )


def _contextual_q(leads: dict[str, LeadMeasures]) -> dict[str, LeadMeasures]:
    """A Q in III alone (or V1 alone) is a normal variant: pathological only with a neighbour."""
    from dataclasses import replace

    out = dict(leads)
    for lead, neighbours in (("III", ("II", "aVF")), ("V1", ("V2",))):
        lm = out[lead]
        if lm.pathological_q and not any(out[nb].pathological_q for nb in neighbours):
            out[lead] = replace(lm, pathological_q=False)
    return out


# --------------------------------------------------------------------------- findings


def findings(m: Measurements, min_leads: int = 2) -> list[Finding]:
    """ST elevation / depression (>= 1 mm at J + 60 ms) and pathological Q, grouped by territory.

    A territory is reported when at least `min_leads` of its leads (good quality) show the change --
    the usual "two contiguous leads" rule; ST elevation in aVR is reported alone as "other".
    """
    out: list[Finding] = []

    def usable(name: str) -> LeadMeasures | None:
        lm = m.leads.get(name)
        return lm if lm is not None and lm.quality == "good" else None

    for territory, names in L.TERRITORIES.items():
        elev, depr, qs = [], [], []
        for name in names:
            lm = usable(name)
            if lm is None:
                continue
            if lm.st_mv is not None and lm.st_mv >= DEVIATION_MV - 1e-9:
                elev.append((name, lm.st_mv))
            if lm.st_mv is not None and lm.st_mv <= -DEVIATION_MV + 1e-9:
                depr.append((name, -lm.st_mv))
            if lm.pathological_q and lm.q_mv is not None:
                qs.append((name, -lm.q_mv))
        for kind, items in (("st_elevation", elev), ("st_depression", depr), ("pathological_q", qs)):
            if len(items) >= min_leads:
                out.append(Finding(kind, territory, tuple(n for n, _ in items), round(max(v for _, v in items) * 10.0, 2)))
    avr = usable("aVR")
    if avr is not None and avr.st_mv is not None and avr.st_mv >= DEVIATION_MV - 1e-9:
        out.append(Finding("st_elevation", "other", ("aVR",), round(avr.st_mv * 10.0, 2)))
    return out
