"""training.synthetic_pathology: each kind shows, to inference.measure, the pathology its label claims.

The claims are read off the generated page the way the product reads a digitized photo
(`inference.measure.measure` on `Example.digitized`: 2.5 s per lead and the rhythm strip, noise, wander and
a gain error included), so a generator that stops producing its finding -- or produces it in the wrong
leads -- fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference.labels import LABELS as PRODUCT_LABELS
from inference.measure import Measurements, findings, measure
from training import synthetic_pathology as sp

SEEDS = (0, 1, 2)
ST_MV = 0.1  # 1 mm: the usual threshold of ST elevation
RECIPROCAL_MV = -0.08  # reciprocal depression, a little under 1 mm for the measuring error


def st(m: Measurements, lead: str) -> float:
    v = m.leads[lead].st_mv
    assert v is not None, lead
    return v


def n_elevated(m: Measurements, leads: tuple[str, ...]) -> int:
    return sum(st(m, ld) >= ST_MV for ld in leads)


def has_finding(m: Measurements, kind: str, territory: str) -> bool:
    return any(f.kind == kind and f.territory == territory for f in findings(m))


def rr(m: Measurements) -> np.ndarray:
    return np.asarray(m.rr_ms)


def claim_normal(m):
    assert not findings(m), findings(m)
    assert 60 <= m.heart_rate_bpm <= 100 and m.rhythm_regular
    assert m.qrs_ms < 120 and 110 <= m.pr_ms <= 210


def claim_acute_mi_anterior(m):
    assert n_elevated(m, ("V1", "V2", "V3", "V4")) >= 2
    assert st(m, "III") <= RECIPROCAL_MV and st(m, "aVF") <= RECIPROCAL_MV  # reciprocal, inferior


def claim_acute_mi_inferior(m):
    assert n_elevated(m, ("II", "III", "aVF")) >= 2
    assert st(m, "aVL") <= RECIPROCAL_MV


def claim_acute_mi_lateral(m):
    assert n_elevated(m, ("I", "aVL", "V5", "V6")) >= 2
    assert st(m, "III") <= RECIPROCAL_MV


def old_mi_claim(territory: str):
    def claim(m):
        assert has_finding(m, "pathological_q", territory), findings(m)
        assert not has_finding(m, "st_elevation", territory), findings(m)
    return claim


def claim_af(m):
    assert m.irregularly_irregular is True and m.pr_ms is None


def claim_pvc(m):
    ratio = rr(m) / np.median(rr(m))
    assert ratio.min() < 0.8 and ratio.max() > 1.15  # a premature beat, then the compensatory pause
    assert not m.irregularly_irregular


def claim_av_block_first(m):
    assert m.pr_ms is not None and m.pr_ms >= 200


def claim_av_block_second(m):
    assert rr(m).max() >= 1.4 * rr(m).min()  # the pause of a P wave that is not conducted
    assert not m.irregularly_irregular


def claim_av_block_complete(m):
    assert m.heart_rate_bpm <= 50 and m.rhythm_regular  # a slow, regular escape rhythm ...
    assert m.pr_ms is None  # ... that no P wave leads at a fixed interval


def claim_rbbb(m):
    assert m.qrs_ms >= 120
    v1 = m.leads["V1"]
    assert v1.r_mv >= 0.3 and v1.r_mv > -v1.s_mv  # the dominant terminal R' of V1


def claim_lbbb(m):
    assert m.qrs_ms >= 120
    assert m.leads["V1"].q_mv <= -0.3  # QS in V1
    assert m.leads["V6"].r_mv >= 0.5 and m.leads["V6"].t_polarity == "negative"  # broad R, discordant T


def claim_tachy(m):
    assert m.heart_rate_bpm > 100 and m.rhythm_regular


def claim_brady(m):
    assert m.heart_rate_bpm < 60 and m.rhythm_regular and m.pr_ms is not None


def claim_lvh(m):
    sokolow = -m.leads["V1"].s_mv + max(m.leads["V5"].r_mv, m.leads["V6"].r_mv)
    assert sokolow >= 3.5


def claim_early_repol(m):
    assert n_elevated(m, ("V2", "V3", "V4", "V5")) >= 2
    assert not [f for f in findings(m) if f.kind == "st_depression"]  # no reciprocal change
    assert st(m, "III") > -0.05 and st(m, "aVL") > -0.05


CLAIMS = {
    "normal": claim_normal,
    "acute_mi_anterior": claim_acute_mi_anterior,
    "acute_mi_inferior": claim_acute_mi_inferior,
    "acute_mi_lateral": claim_acute_mi_lateral,
    "old_mi_anterior": old_mi_claim("anterior"),
    "old_mi_inferior": old_mi_claim("inferior"),
    "old_mi_lateral": old_mi_claim("lateral"),
    "af": claim_af,
    "pvc": claim_pvc,
    "av_block_first": claim_av_block_first,
    "av_block_second": claim_av_block_second,
    "av_block_complete": claim_av_block_complete,
    "rbbb": claim_rbbb,
    "lbbb": claim_lbbb,
    "tachy": claim_tachy,
    "brady": claim_brady,
    "lvh": claim_lvh,
    "early_repol": claim_early_repol,
}


def test_every_kind_has_a_claim():
    assert set(CLAIMS) == set(sp.KINDS)


@pytest.mark.parametrize("kind", sp.KINDS)
def test_measure_finds_the_claimed_pathology(kind):
    for seed in SEEDS:
        ex = sp.generate(kind, seed)
        m = measure(ex.digitized)
        try:
            CLAIMS[kind](m)
        except AssertionError as e:
            raise AssertionError(f"{kind} seed {seed}: {e}") from e


@pytest.mark.parametrize("kind", sp.KINDS)
def test_labels_carry_the_kind_and_the_rate(kind):
    for seed in SEEDS:
        ex = sp.generate(kind, seed)
        on = {name for name, v in zip(sp.LABELS, ex.labels) if v}
        assert set(sp.KIND_LABELS[kind]) <= on
        assert ("tachy" in on) == (ex.heart_rate > sp.TACHY_BPM)
        assert ("brady" in on) == (ex.heart_rate < sp.BRADY_BPM)
        assert ("normal" in on) == (sp.product_class(ex.labels) == "normal")


def test_product_classes():
    def cls(*names):
        return sp.product_class(np.array([n in names for n in sp.LABELS], np.float32))

    assert cls("acute_mi", "old_mi", "tachy") == "myocardial_infarction"
    assert cls("old_mi", "bbb") == "history_of_mi"
    assert cls("af", "tachy") == "abnormal_heartbeat"
    assert cls("lvh", "normal") == "normal" and cls("early_repol", "normal") == "normal"
    assert set(sp.product_class(sp.label_vector(k, 75.0)) for k in sp.KINDS) == set(PRODUCT_LABELS)


def test_same_seed_same_example_and_leads_are_einthoven_consistent():
    a, b = sp.generate("acute_mi_inferior", 5), sp.generate("acute_mi_inferior", 5)
    assert all(np.array_equal(a.leads[k], b.leads[k]) for k in a.leads)
    assert not np.array_equal(a.leads["II"], sp.generate("acute_mi_inferior", 6).leads["II"])
    lead = a.leads
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=1e-5)
    np.testing.assert_allclose(lead["aVF"], lead["II"] - lead["I"] / 2, atol=1e-5)


def test_dataset_mixes_the_kinds_with_gaps():
    pages, y, kinds = sp.dataset(2 * len(sp.KINDS), seed=3, gap_prob=1.0)
    assert y.shape == (len(pages), len(sp.LABELS)) and len(kinds) == len(pages)
    assert sorted(kinds) == sorted(2 * list(sp.KINDS))
    for d in pages:
        assert np.isnan(np.concatenate([d.rhythm.signal] + [ld.signal for ld in d.leads.values()])).any()
    assert (sp.product_targets(y) >= 0).all() and len(set(sp.product_targets(y))) == 4
    _, y2, kinds2 = sp.dataset(2 * len(sp.KINDS), seed=3, gap_prob=1.0)
    assert kinds2 == kinds and np.array_equal(y2, y)
