"""Clinical features of one digitized page, for the measurement model (`inference.measure_model`).

`features(digitized, measurements)` -> float32 vector in `FEATURE_NAMES` order; NaN where a value
could not be measured (the model imputes). Only the tracing is used: the printed header and footer
(patient ID, the machine's heart rate) never reach these numbers.

What a cardiologist looks at, and what separates the four classes of the data set:
* rate and rhythm (abnormal heartbeat): rate, RR variability, premature beats, beats unlike the rest;
* acute MI: ST elevation / depression per lead, maxima per territory, counts of leads with it;
* old MI: Q waves (depth, width, pathological), T inversion, R-wave progression V1-V6;
* intervals and axis from `inference.measure`.
Per lead the measurements' values are used, plus a few read here from a median beat aligned on the
measurements' R peaks (ST at J+80 ms, the mean ST level J..J+120 ms, net QRS and T areas).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from inference import layout as L

LIMB_PRECORDIAL = L.LEADS
_NOT_AVR = tuple(n for n in L.LEADS if n != "aVR")
_T_INV_LEADS = tuple(n for n in L.LEADS if n not in ("aVR", "V1", "III"))  # T inversion is abnormal here

_GLOBAL = ("heart_rate", "rr_cv", "rr_sd_ms", "rr_max_dev", "rr_min_ratio", "regular", "irregularly_irregular",
           "pr_ms", "pr_missing", "qrs_ms", "qt_ms", "qtc_b_ms", "qtc_f_ms", "axis_cos", "axis_sin",
           "axis_left", "axis_right", "n_beats", "n_traced", "odd_beats", "strip_noise")
_PER_LEAD = ("st", "st_j", "st80", "st_mean", "q", "q_ms", "path_q", "r", "s", "t", "t_neg", "qrs_area",
             "t_area")
_AGG = (
    "st_max_inferior", "st_max_anterior", "st_max_lateral", "st_min_inferior", "st_min_anterior",
    "st_min_lateral", "st_max", "st_min", "st_avr", "n_ste_1mm", "n_ste_2mm", "n_std_05mm", "n_std_1mm",
    "n_path_q", "n_t_inv", "n_t_inv_v1v4", "q_depth_v1v4", "q_depth_inferior", "n_path_q_v1v4",
    "r_v1", "r_v2", "r_v3", "r_v4", "r_v5", "r_v6", "r_prog_v1v4", "rs_v3", "sum_abs_st", "reciprocal",
    "sokolow", "t_sum_v1v4", "t_min_v1v4",
)
FEATURE_NAMES: tuple[str, ...] = (
    _GLOBAL + tuple(f"{k}_{n}" for n in L.LEADS for k in _PER_LEAD) + _AGG
)
_IDX = {n: i for i, n in enumerate(FEATURE_NAMES)}

PRE_S, POST_S = 0.3, 0.6  # median beat window around R


def _num(v) -> float:
    return float(v) if v is not None and isinstance(v, (int, float, np.floating, np.integer)) and \
        math.isfinite(float(v)) else math.nan


def _median_beat(x: np.ndarray, start_s: float, r_s: np.ndarray, fs: int) -> np.ndarray | None:
    """NaN-aware median of the beats of one window (x starts at start_s on the 10 s axis)."""
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    beats = []
    for t in r_s:
        c = int(round((t - start_s) * fs))
        a, b = c - pre, c + post
        if a < 0 or b > len(x):
            # a beat cut by the window's edge still gives its QRS if the core is inside
            if c - int(0.05 * fs) < 0 or c + int(0.2 * fs) > len(x):
                continue
        seg = np.full(pre + post, np.nan)
        aa, bb = max(0, a), min(len(x), b)
        seg[aa - a: bb - a] = x[aa:bb]
        beats.append(seg)
    if not beats:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.stack(beats), axis=0)


def _bounds(meds: list[np.ndarray], fs: int) -> tuple[int, int]:
    """QRS onset and offset (indices in the median-beat window) from the leads' RMS slope."""
    pre = int(PRE_S * fs)
    d = np.stack([np.gradient(m) * fs for m in meds])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s = np.sqrt(np.nanmean(d ** 2, axis=0))
    s = np.nan_to_num(s)
    w = int(0.06 * fs)
    kp = pre - w + int(np.argmax(s[pre - w: pre + w]))
    thr = 0.12 * s[kp]
    on = kp
    while on > pre - int(0.12 * fs) and s[on] > thr:
        on -= 1
    off = kp
    while off < pre + int(0.16 * fs) and s[off] > thr:
        off += 1
    return on, off


def _own_lead_features(d, m) -> dict[str, dict[str, float]]:
    """Per lead: ST at J+80 ms and its mean J..J+120 ms, net QRS and T areas, from median beats."""
    fs = int(d.fs)
    r_s = np.asarray(getattr(m, "r_peaks_s", ()) or (), float)
    out: dict[str, dict[str, float]] = {}
    if len(r_s) < 2:
        return out
    meds = {}
    for name in L.LEADS:
        lead = d.leads.get(name)
        if lead is None or not lead.ok:
            continue
        mb = _median_beat(np.asarray(lead.signal, float), lead.start_s, r_s, fs)
        if mb is not None and np.isfinite(mb[int((PRE_S - 0.1) * fs): int((PRE_S + 0.1) * fs)]).all():
            meds[name] = mb
    if len(meds) < 3:
        return out
    on, off = _bounds(list(meds.values()), fs)
    rr = float(np.median(np.diff(r_s)))
    t_end = int(PRE_S * fs + min(0.55, 0.65 * rr) * fs)
    for name, mb in meds.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            base = np.nanmedian(mb[max(0, on - int(0.03 * fs)): on - int(0.005 * fs)])
            y = mb - base
            j80 = off + int(0.08 * fs)
            out[name] = {
                "st80": float(np.nanmean(y[j80 - 2: j80 + 3])),
                "st_mean": float(np.nanmean(y[off: off + int(0.12 * fs)])),
                "qrs_area": float(np.nansum(y[on: off + 1]) / fs),
                "t_area": float(np.nansum(y[off + int(0.06 * fs): t_end]) / fs),
            }
    return out


def _rhythm_features(d, m) -> tuple[float, float]:
    """(share of beats unlike the rhythm strip's median beat, high-frequency noise of the strip)."""
    x = np.asarray(d.rhythm.signal, float) if d.rhythm is not None and d.rhythm.ok else None
    r_s = np.asarray(getattr(m, "r_peaks_s", ()) or (), float)
    if x is None or len(r_s) < 3:
        return math.nan, math.nan
    fs = int(d.fs)
    w = int(0.08 * fs)
    beats = []
    for t in r_s:
        c = int(round(t * fs))
        if c - w >= 0 and c + w <= len(x) and np.isfinite(x[c - w: c + w]).all():
            beats.append(x[c - w: c + w])
    dx = np.diff(x)
    noise = float(np.nanmedian(np.abs(dx - np.nanmedian(dx)))) if np.isfinite(dx).sum() > 100 else math.nan
    if len(beats) < 3:
        return math.nan, noise
    b = np.stack(beats)
    tpl = np.median(b, axis=0)
    bc, tc = b - b.mean(1, keepdims=True), tpl - tpl.mean()
    den = np.sqrt((bc ** 2).sum(1) * (tc ** 2).sum()) + 1e-9
    corr = (bc @ tc) / den
    return float(np.mean(corr < 0.8)), noise


def features(digitized, measurements) -> np.ndarray:
    """The page's feature vector (float32, len(FEATURE_NAMES)), NaN where not measurable."""
    d, m = digitized, measurements
    f = np.full(len(FEATURE_NAMES), np.nan, np.float32)

    def put(name: str, v) -> None:
        f[_IDX[name]] = _num(v)

    rr = np.asarray(m.rr_ms or (), float)
    put("heart_rate", m.heart_rate_bpm)
    put("rr_cv", m.rr_cv)
    if len(rr) >= 2:
        med = float(np.median(rr))
        put("rr_sd_ms", rr.std())
        put("rr_max_dev", float(np.max(np.abs(rr - med)) / med))
        put("rr_min_ratio", float(rr.min() / med))
    put("regular", None if m.rhythm_regular is None else float(m.rhythm_regular))
    put("irregularly_irregular", None if m.irregularly_irregular is None else float(m.irregularly_irregular))
    put("pr_ms", m.pr_ms)
    put("pr_missing", float(m.pr_ms is None))
    put("qrs_ms", m.qrs_ms)
    put("qt_ms", m.qt_ms)
    put("qtc_b_ms", m.qtc_bazett_ms)
    put("qtc_f_ms", m.qtc_fridericia_ms)
    if m.axis_deg is not None:
        a = math.radians(m.axis_deg)
        put("axis_cos", math.cos(a))
        put("axis_sin", math.sin(a))
        put("axis_left", float(-90 <= m.axis_deg < -30))
        put("axis_right", float(m.axis_deg > 90 or m.axis_deg < -90))
    put("n_beats", m.n_beats)
    put("n_traced", len(d.traced_leads))
    odd, noise = _rhythm_features(d, m)
    put("odd_beats", odd)
    put("strip_noise", noise)

    own = _own_lead_features(d, m)
    vals: dict[str, dict[str, float]] = {}
    for name in L.LEADS:
        lm = m.leads.get(name)
        v = {k: math.nan for k in _PER_LEAD}
        if lm is not None and lm.quality != "untraced" and lm.r_mv is not None:
            v.update(st=_num(lm.st_mv), st_j=_num(lm.st_j_mv), r=_num(lm.r_mv), s=_num(lm.s_mv),
                     t=_num(lm.t_mv), q=_num(lm.q_mv) if lm.q_mv is not None else 0.0,
                     q_ms=_num(lm.q_ms) if lm.q_ms is not None else 0.0,
                     path_q=float(lm.pathological_q),
                     t_neg=math.nan if lm.t_polarity is None else float(lm.t_polarity == "negative"))
        v.update(own.get(name, {}))
        vals[name] = v
        for k in _PER_LEAD:
            put(f"{k}_{name}", v[k])

    def col(key: str, names) -> np.ndarray:
        return np.array([vals[n][key] for n in names], float)

    def nanfn(fn, a: np.ndarray) -> float:
        a = a[np.isfinite(a)]
        return float(fn(a)) if len(a) else math.nan

    st = {n: vals[n]["st"] for n in L.LEADS}
    for terr, names in L.TERRITORIES.items():
        put(f"st_max_{terr}", nanfn(np.max, col("st", names)))
        put(f"st_min_{terr}", nanfn(np.min, col("st", names)))
    st_na = col("st", _NOT_AVR)
    put("st_max", nanfn(np.max, st_na))
    put("st_min", nanfn(np.min, st_na))
    put("st_avr", st["aVR"])
    if np.isfinite(st_na).any():
        ok = st_na[np.isfinite(st_na)]
        put("n_ste_1mm", float((ok >= 0.1).sum()))
        put("n_ste_2mm", float((ok >= 0.2).sum()))
        put("n_std_05mm", float((ok <= -0.05).sum()))
        put("n_std_1mm", float((ok <= -0.1).sum()))
        put("sum_abs_st", float(np.abs(ok).sum()))
        put("reciprocal", float(max(ok.max(), 0.0) * max(-ok.min(), 0.0)))
    pq = col("path_q", _NOT_AVR)
    put("n_path_q", nanfn(np.sum, pq))
    put("n_path_q_v1v4", nanfn(np.sum, col("path_q", ("V1", "V2", "V3", "V4"))))
    put("n_t_inv", nanfn(np.sum, col("t_neg", _T_INV_LEADS)))
    put("n_t_inv_v1v4", nanfn(np.sum, col("t_neg", ("V1", "V2", "V3", "V4"))))
    put("q_depth_v1v4", nanfn(np.min, col("q", ("V1", "V2", "V3", "V4"))))
    put("q_depth_inferior", nanfn(np.min, col("q", ("II", "III", "aVF"))))
    for k in range(1, 7):
        put(f"r_v{k}", vals[f"V{k}"]["r"])
    r14 = col("r", ("V1", "V2", "V3", "V4"))
    if np.isfinite(r14).sum() >= 3:
        k = np.isfinite(r14)
        put("r_prog_v1v4", float(np.polyfit(np.arange(4)[k], r14[k], 1)[0]))
    r3, s3 = vals["V3"]["r"], vals["V3"]["s"]
    if math.isfinite(r3) and math.isfinite(s3):
        put("rs_v3", r3 / (r3 - s3 + 1e-3))
    put("sokolow", -vals["V1"]["s"] + max(vals["V5"]["r"], vals["V6"]["r"]))
    put("t_sum_v1v4", nanfn(np.sum, col("t", ("V1", "V2", "V3", "V4"))))
    put("t_min_v1v4", nanfn(np.min, col("t", ("V1", "V2", "V3", "V4"))))
    return f
