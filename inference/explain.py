"""Why the diagnosis: the measured signs that speak for it, in the words a clinician uses.

`reasons(label, measurements)` -> a list of `Reason`s (a key and its values); `handlers/texts.py`
words them. Only measured signs appear, each from `inference.measure` (ST at J+60 ms against the PR
baseline, pathological Q, T polarity, rate, rhythm, QRS and PR); when the signs the class is known by
were not measured, the list says so (`no_typical_signs`) instead of inventing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inference import layout as L
from inference.measure import DEVIATION_MV, Measurements, findings

ANTERIOR_T_LEADS = ("V2", "V3", "V4")  # T inversion here is not a normal variant (V1 and III may be)
TACHY_BPM, BRADY_BPM = 100.0, 60.0
WIDE_QRS_MS = 120.0
LONG_PR_MS = 200.0
TERRITORY_NAMES = {"inferior": "inferior", "anterior": "anterior", "lateral": "lateral"}


@dataclass(frozen=True)
class Reason:
    key: str  # what was seen: see handlers/texts.WHY
    values: dict = field(default_factory=dict)


def _lead_list(names) -> str:
    """V2, V3, V4 -> "V2–V4" when they are consecutive precordial leads, else "II, III, aVF"."""
    names = list(names)
    if len(names) >= 3 and all(n.startswith("V") for n in names):
        k = [int(n[1:]) for n in names]
        if k == list(range(k[0], k[0] + len(k))):
            return f"{names[0]}–{names[-1]}"
    return ", ".join(names)


def _acute(m: Measurements) -> list[Reason]:
    f = findings(m)
    up = [x for x in f if x.kind == "st_elevation" and x.territory in TERRITORY_NAMES]
    down = [x for x in f if x.kind == "st_depression"]
    out = []
    for e in sorted(up, key=lambda x: -x.max_mm):
        recip = [d for d in down if d.territory != e.territory]
        values = {"mm": e.max_mm, "leads": _lead_list(e.leads), "territory": TERRITORY_NAMES[e.territory]}
        if recip:
            values["reciprocal"] = ", ".join(_lead_list(d.leads) for d in recip)
            out.append(Reason("st_elevation_reciprocal", values))
        else:
            out.append(Reason("st_elevation", values))
    if not up:
        for d in down:
            out.append(Reason("st_depression", {"mm": d.max_mm, "leads": _lead_list(d.leads),
                                                "territory": TERRITORY_NAMES.get(d.territory, d.territory)}))
    return out


def _old(m: Measurements) -> list[Reason]:
    out = [Reason("pathological_q", {"leads": _lead_list(x.leads), "territory": TERRITORY_NAMES[x.territory]})
           for x in findings(m) if x.kind == "pathological_q" and x.territory in TERRITORY_NAMES]
    inverted = _inverted_t(m)
    if len(inverted) >= 2:
        out.append(Reason("t_inversion", {"leads": _lead_list(inverted)}))
    return out


def _inverted_t(m: Measurements) -> list[str]:
    """Leads with a well-traced negative T wave, leaving out those where it is normal (aVR, V1, III)."""
    return [n for n in L.LEADS if n not in ("aVR", "V1", "III")
            and (lm := m.leads.get(n)) is not None and lm.quality == "good" and lm.t_polarity == "negative"]


def _rhythm(m: Measurements) -> list[Reason]:
    out = []
    if m.irregularly_irregular:
        out.append(Reason("irregularly_irregular", {}))
    elif m.rhythm_regular is False:
        out.append(Reason("irregular", {}))
    if m.heart_rate_bpm is not None and m.heart_rate_bpm > TACHY_BPM:
        out.append(Reason("tachycardia", {"bpm": round(m.heart_rate_bpm)}))
    elif m.heart_rate_bpm is not None and m.heart_rate_bpm < BRADY_BPM:
        out.append(Reason("bradycardia", {"bpm": round(m.heart_rate_bpm)}))
    if m.qrs_ms is not None and m.qrs_ms >= WIDE_QRS_MS:
        out.append(Reason("wide_qrs", {"ms": round(m.qrs_ms)}))
    if m.pr_ms is not None and m.pr_ms > LONG_PR_MS:
        out.append(Reason("long_pr", {"ms": round(m.pr_ms)}))
    return out


def _normal(m: Measurements) -> list[Reason]:
    if _acute(m) or _old(m) or _rhythm(m) or m.heart_rate_bpm is None:
        return []
    return [Reason("normal", {"bpm": round(m.heart_rate_bpm), "mm": round(DEVIATION_MV * 10)})]


def reasons(label: str, m: Measurements | None) -> list[Reason]:
    """The measured signs behind `label` (one of inference.labels.LABELS), most telling first."""
    if m is None:
        return []
    by_label = {
        "myocardial_infarction": _acute,
        "history_of_mi": _old,
        "abnormal_heartbeat": _rhythm,
        "normal": _normal,
    }
    out = by_label[label](m)
    return out or [Reason("no_typical_signs", {})]


def marked_leads(label: str | None, m: Measurements | None) -> list[str]:
    """The leads the heat map outlines for `label`: where the signs behind it were measured (acute MI: the
    leads with ST elevation and the reciprocal depression; history of MI: pathological Q waves and inverted
    T waves; abnormal heartbeat: the rhythm strip when a rhythm or conduction sign was found). Empty when
    none was (a normal page, or an answer no measured sign supports)."""
    if m is None or label is None:
        return []
    f = findings(m)
    if label == "myocardial_infarction" and _acute(m):
        leads = [n for x in f if x.kind in ("st_elevation", "st_depression") for n in x.leads]
    elif label == "history_of_mi" and _old(m):
        leads = [n for x in f if x.kind == "pathological_q" and x.territory in TERRITORY_NAMES for n in x.leads]
        if any(r.key == "t_inversion" for r in _old(m)):
            leads += _inverted_t(m)
    elif label == "abnormal_heartbeat" and _rhythm(m):
        leads = ["rhythm"]
    else:
        return []
    return list(dict.fromkeys(leads))  # in order, once each
