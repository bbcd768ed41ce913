"""The 12-lead generator: one heart seen by twelve leads, with findings known by construction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks

from content import ecgsynth as es
from content.ecgsynth import TwelveLeadParams, generate_12lead

FS = es.FS


def test_shape_and_leads():
    e = generate_12lead(es.normal(seed=1))
    assert set(e.signals) == set(es.LEADS12) == set(e.clean)
    for ld in es.LEADS12:
        assert e.signals[ld].shape == (10 * FS,)
        assert np.all(np.isfinite(e.signals[ld]))
    assert 0.8 < e.signals["II"].max() < 1.8
    assert e.signals["aVR"].min() < -0.5 and e.signals["aVR"].max() < 0.4  # aVR is negative


@pytest.mark.parametrize("params", [es.normal(noise_mv=0.02, wander_mv=0.2, seed=2),
                                    es.inferior_stemi(rhythm="af", seed=3), es.old_inferior_mi(seed=4)])
def test_einthoven_holds_sample_by_sample(params):
    e = generate_12lead(params)
    s = e.signals
    assert np.allclose(s["III"], s["II"] - s["I"], atol=1e-9)
    assert np.allclose(s["aVR"], -(s["I"] + s["II"]) / 2, atol=1e-9)
    assert np.allclose(s["aVL"], s["I"] - s["II"] / 2, atol=1e-9)
    assert np.allclose(s["aVF"], s["II"] - s["I"] / 2, atol=1e-9)
    assert np.allclose(s["I"] + s["III"], s["II"], atol=1e-9)


def _st_measured(x: np.ndarray, onsets, qrs_ms: float) -> list[float]:
    out = []
    for o in onsets:
        ij = int(round((o + qrs_ms / 1000 + 0.060) * FS))
        ib = int(round((o - 0.010) * FS))  # PR segment
        if ib >= 0 and ij < len(x):
            out.append(float(x[ij] - x[ib]))
    return out


@pytest.mark.parametrize("preset", [es.anterior_stemi, es.inferior_stemi])
def test_st_at_j60_equals_requested(preset):
    p = preset(seed=5)
    e = generate_12lead(p)
    onsets = [o for o, k in zip(e.qrs_onsets, e.beat_kinds) if k == "normal"]
    assert len(onsets) >= 8
    for ld, want in p.st_mv.items():
        got = _st_measured(e.clean[ld], onsets, p.qrs_ms)
        assert np.allclose(got, want, atol=2e-3), (ld, want, got[:3])
        assert e.st_mv[ld] == pytest.approx(want, abs=2e-3)
    # unnamed precordial leads have no ST deviation
    for ld in es.PRECORDIAL_LEADS:
        if ld not in p.st_mv:
            assert np.allclose(_st_measured(e.clean[ld], onsets, p.qrs_ms), 0.0, atol=2e-3)


def test_inferior_stemi_territory_and_reciprocal():
    e = generate_12lead(es.inferior_stemi(seed=1))
    assert e.st_mv["III"] > e.st_mv["II"] > 0.1 and e.st_mv["aVF"] > 0.1
    assert e.st_mv["aVL"] < -0.1
    n = generate_12lead(es.normal(seed=1))
    assert max(abs(v) for v in n.st_mv.values()) < 1e-9


def test_limb_st_values_are_fitted_not_ignored():
    """A single limb lead's ST request is realised exactly (min-norm vector)."""
    e = generate_12lead(TwelveLeadParams(st_mv={"aVL": 0.2}, seed=1))
    assert e.st_mv["aVL"] == pytest.approx(0.2, abs=1e-6)


@pytest.mark.parametrize("hr", [45, 72, 110, 150])
def test_rate_from_samples(hr):
    e = generate_12lead(TwelveLeadParams(heart_rate=hr, seed=hr))
    peaks, _ = find_peaks(e.signals["II"], height=0.5, distance=int(0.25 * FS))
    rr = np.diff(peaks) / FS
    assert abs(60 / rr.mean() - hr) <= 2.5
    assert abs(e.heart_rate - hr) <= 2.5
    assert np.allclose(np.array(e.r_times), peaks / FS, atol=0.004)
    assert e.qtc_bazett_ms == pytest.approx(400, abs=8)


def test_af_irregular_without_p_and_pvcs_early():
    e = generate_12lead(es.atrial_fibrillation(seed=2))
    assert e.pr_ms is None and e.rr_s.std() / e.rr_s.mean() > 0.1
    pv = generate_12lead(TwelveLeadParams(heart_rate=70, pvc_every=4, seed=1))
    assert "pvc" in pv.beat_kinds
    k = pv.beat_kinds.index("pvc")
    rr = pv.rr_s
    if 0 < k < len(rr):
        assert rr[k - 1] < 0.8 * np.median(rr)  # premature


def test_pr_and_qrs_timing_exact_in_clean_signal():
    p = TwelveLeadParams(heart_rate=60, pr_ms=200, qrs_ms=100, qt_ms=420, seed=7)
    e = generate_12lead(p)
    o = e.qrs_onsets[3]
    x = e.clean["II"]
    i_on = int(round(o * FS))
    assert np.all(np.abs(x[i_on - int(0.02 * FS): i_on]) < 1e-9)  # isoelectric PR segment
    assert np.abs(x[i_on - int(0.2 * FS) + 10]) > 0.01  # P wave starts 200 ms before the QRS
    assert np.all(np.abs(x[int(round((o - 0.2) * FS)) - 10: int(round((o - 0.2) * FS))]) < 1e-9)
    i_t = int(round((o + 0.42) * FS))
    assert np.all(np.abs(x[i_t + 1: i_t + 50]) < 1e-9)  # T ends exactly QT after onset


def test_q_waves_and_t_inversion():
    e = generate_12lead(es.old_anterior_mi(seed=1))
    for ld in ("V1", "V2", "V3"):
        assert e.q_mv[ld] < -0.25
    for ld in ("V2", "V3", "V4"):
        assert e.t_mv[ld] < -0.2
    assert e.t_mv["V5"] > 0.1
    inf = generate_12lead(es.old_inferior_mi(seed=1))
    for ld in ("II", "III", "aVF"):
        assert inf.q_mv[ld] < -0.25
    assert inf.t_mv["III"] < -0.1


def test_axis_moves_the_limb_leads():
    left = generate_12lead(TwelveLeadParams(axis_deg=-30, seed=1))
    right = generate_12lead(TwelveLeadParams(axis_deg=100, seed=1))
    assert abs(left.net_axis_deg - (-30)) < 20 and abs(right.net_axis_deg - 100) < 20
    assert left.signals["aVL"].max() > left.signals["III"].max()
    assert right.signals["III"].max() > right.signals["aVL"].max()


def test_deterministic_and_validation():
    a = generate_12lead(es.atrial_fibrillation(seed=9)).signals["V1"]
    b = generate_12lead(es.atrial_fibrillation(seed=9)).signals["V1"]
    c = generate_12lead(es.atrial_fibrillation(seed=10)).signals["V1"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError):
        generate_12lead(TwelveLeadParams(rhythm="nonsense"))
    with pytest.raises(ValueError):
        generate_12lead(TwelveLeadParams(st_mv={"V7": 0.1}))
