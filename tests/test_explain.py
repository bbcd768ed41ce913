"""inference.explain: the measured signs behind each diagnosis, and the chat's "Why" block."""

from __future__ import annotations

from handlers import texts
from handlers.diagnosis import why_block
from inference import layout as L
from inference.explain import reasons
from inference.measure import LeadMeasures, Measurements


def page(hr=75.0, regular=True, af=False, qrs=90.0, pr=160.0, **leads) -> Measurements:
    """Measurements of a normal page with some leads changed: leads=dict(V2=dict(st_mv=0.25), ...)."""
    per = {n: LeadMeasures("good", st_mv=0.0, st_j_mv=0.0, r_mv=1.0, s_mv=-0.3, t_mv=0.3, t_polarity="positive")
           for n in L.LEADS}
    for name, change in leads.items():
        per[name] = LeadMeasures(**{**per[name].__dict__, **change})
    return Measurements(heart_rate_bpm=hr, rr_ms=(800.0,) * 10, rr_cv=0.02, rhythm_regular=regular,
                        irregularly_irregular=af, pr_ms=pr, qrs_ms=qrs, qt_ms=380.0, qtc_bazett_ms=400.0,
                        qtc_fridericia_ms=400.0, axis_deg=45.0, r_peaks_s=(), n_beats=12, leads=per,
                        quality={})


def test_anterior_stemi_with_reciprocal_depression():
    m = page(V2=dict(st_mv=0.25), V3=dict(st_mv=0.2), V4=dict(st_mv=0.15),
             III=dict(st_mv=-0.15), aVF=dict(st_mv=-0.1))
    r = reasons("myocardial_infarction", m)
    assert r[0].key == "st_elevation_reciprocal"
    assert r[0].values["leads"] == "V2–V4" and r[0].values["territory"] == "anterior"
    assert r[0].values["mm"] == 2.5 and r[0].values["reciprocal"] == "III, aVF"
    text = why_block([{"key": x.key, "values": x.values} for x in r])
    assert "ST elevation 2.5 mm in V2–V4 with reciprocal depression in III, aVF: anterior acute MI pattern" in text


def test_one_lead_is_not_a_territory():
    m = page(V2=dict(st_mv=0.3))
    assert [x.key for x in reasons("myocardial_infarction", m)] == ["no_typical_signs"]


def test_old_mi_q_waves_and_t_inversion():
    q = dict(q_mv=-0.4, q_ms=50.0, pathological_q=True)
    m = page(II=q, III=q, aVF=q, V2=dict(t_polarity="negative"), V3=dict(t_polarity="negative"))
    keys = {x.key: x.values for x in reasons("history_of_mi", m)}
    assert keys["pathological_q"]["territory"] == "inferior"
    assert keys["t_inversion"]["leads"] == "V2, V3"


def test_rhythm_signs():
    keys = [x.key for x in reasons("abnormal_heartbeat", page(hr=128.0, regular=False, af=True, qrs=140.0))]
    assert keys == ["irregularly_irregular", "tachycardia", "wide_qrs"]
    assert [x.key for x in reasons("abnormal_heartbeat", page(hr=48.0, pr=240.0))] == ["bradycardia", "long_pr"]


def test_normal_only_when_nothing_abnormal_was_measured():
    assert reasons("normal", page())[0].key == "normal"
    assert reasons("normal", page(hr=130.0))[0].key == "no_typical_signs"


def test_every_reason_has_a_text():
    for m, label in ((page(V2=dict(st_mv=0.3), V3=dict(st_mv=0.3)), "myocardial_infarction"),
                     (page(I=dict(st_mv=-0.2), aVL=dict(st_mv=-0.2)), "myocardial_infarction"),
                     (page(hr=130.0), "abnormal_heartbeat"), (page(), "normal")):
        for r in reasons(label, m):
            assert r.key in texts.WHY
            texts.WHY[r.key].format(**r.values)


def test_the_heat_map_marks_the_leads_behind_each_answer():
    from inference.explain import marked_leads

    stemi = page(V2=dict(st_mv=0.25), V3=dict(st_mv=0.2), V4=dict(st_mv=0.15), III=dict(st_mv=-0.15), aVF=dict(st_mv=-0.1))
    assert set(marked_leads("myocardial_infarction", stemi)) == {"V2", "V3", "V4", "III", "aVF"}
    assert marked_leads("normal", stemi) == [] and marked_leads(None, stemi) == []
    old = page(V5=dict(t_polarity="negative"), V6=dict(t_polarity="negative"), aVR=dict(t_polarity="negative"))
    assert set(marked_leads("history_of_mi", old)) == {"V5", "V6"}  # aVR's negative T is normal
    assert marked_leads("abnormal_heartbeat", page(hr=130.0)) == ["rhythm"]
    assert marked_leads("abnormal_heartbeat", page()) == []  # no rhythm sign measured: nothing to point at
    assert marked_leads("myocardial_infarction", page(V2=dict(st_mv=0.3))) == []  # one lead is no territory
