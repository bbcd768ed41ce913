"""Ground-truth pages: the traces are where the layout says, the page looks like the data set's."""

from __future__ import annotations

import numpy as np
import pytest

from content import ecgsynth as es
from inference import layout as L
from training import page_render as pr


@pytest.fixture(scope="module")
def flat_page():
    """A slow sinus ECG whose lead windows all start in a flat TP segment (known baseline)."""
    e = es.generate_12lead(es.normal(heart_rate=50, seed=3))
    return e, pr.render_page(e, rhythm_lead="II", seed=3, jpeg_quality=80)


def _flat_times(e: es.TwelveLead, lo: float, hi: float) -> list[float]:
    """Times in [lo, hi] where every lead is isoelectric (clean signal exactly 0) for +-40 ms."""
    out = []
    for t in np.arange(lo, hi, 0.02):
        i = int(round(t * e.fs))
        if all(np.all(np.abs(e.clean[ld][max(0, i - 20): i + 20]) < 1e-9) for ld in es.LEADS12):
            out.append(float(t))
    return out


def test_page_shape_and_dtype(flat_page):
    _, page = flat_page
    assert page.image.shape == (L.PAGE_H, L.PAGE_W, 3) and page.image.dtype == np.uint8


def test_trace_on_baseline_in_flat_segments(flat_page):
    e, page = flat_page
    gray = page.image.astype(float).mean(axis=2)
    flats = _flat_times(e, 0.05, 9.9)
    assert len(flats) > 20
    checked = 0
    for t in flats:
        x = int(round(L.x_of_time(t)))
        if min(abs(x - s) for s in L.SEPARATOR_X) < 6:
            continue
        if min((x - s) % (L.SEGMENT_S * L.PX_PER_S) for s in (L.T0_X,)) < 45:
            continue  # the lead label is printed on the first ~cm of each window
        for r in range(4):
            yb = L.BASELINE_Y[r]
            lo, hi = int(yb) - 40, int(yb) + 40
            col = gray[lo:hi, x]
            y = lo + int(np.argmin(col))
            assert abs(y - yb) <= 1, (t, r, y)
            assert col.min() < 60  # a black stroke, not grid
            checked += 1
    assert checked > 60


def test_traces_follow_the_signal(flat_page):
    """At R peaks the darkest pixel is ~ BASELINE - mV * PX_PER_MV (no clipping here)."""
    e, page = flat_page
    gray = page.image.astype(float).mean(axis=2)
    errs = []
    for t_r in e.r_times:
        for r, names in enumerate(L.ROWS):
            name = names[int(t_r // L.SEGMENT_S)]
            i = int(round(t_r * e.fs))
            v = e.signals[name][i]
            x = int(round(L.x_of_time(t_r)))
            if min(abs(x - s) for s in L.SEPARATOR_X) < 4 or abs(v) < 0.3:
                continue
            y_want = L.BASELINE_Y[r] - v * L.PX_PER_MV
            lo, hi = int(y_want) - 8, int(y_want) + 9
            col = gray[lo:hi, x]
            dark = np.where(col < 100)[0]
            assert len(dark), (t_r, name)
            edge = lo + (dark.min() if v > 0 else dark.max())
            errs.append((y_want - edge) * np.sign(v))  # the stroke's outer edge: ~half a stroke beyond
    assert len(errs) > 10
    assert 0.0 <= np.median(errs) <= 2.5 and np.max(np.abs(errs)) <= 4


def test_calibration_pulses_are_one_millivolt(flat_page):
    _, page = flat_page
    gray = page.image.astype(float).mean(axis=2)
    for r in range(4):
        yb = int(L.BASELINE_Y[r])
        col = gray[yb - 75: yb + 6, 80:86].min(axis=1)  # the pulse's top, between its edges
        foot = gray[yb - 3: yb + 4, 70:74].min(axis=1)
        top_y = yb - 75 + int(np.argmin(col))
        foot_y = yb - 3 + int(np.argmin(foot))
        assert 56 <= foot_y - top_y <= 58, (r, foot_y, top_y)
        # the top is narrow (~12 px) and the pulse ends before the trace starts
        top_row = gray[top_y, 60:110] < 110
        assert 10 <= top_row.sum() <= 17


def test_grid_and_box_are_the_printers(flat_page):
    _, page = flat_page
    img = page.image.astype(int)
    x0, y0, x1, y1 = L.GRID_BOX
    edge = img[y0 + 300: y1 - 300, x0:x0 + 2].reshape(-1, 3)  # left side of the rectangle
    r, g, b = edge.mean(axis=0)
    assert r > 200 and r - g > 35 and r - b > 30  # pink
    top = img[y0:y0 + 2, 300:1200].reshape(-1, 3).mean(axis=0)
    assert top[0] - top[1] > 25
    # inside: dotted grid, light; outside the box: white paper
    inside = img[420:470, 600:900].mean(axis=2)
    assert 235 < inside.mean() < 252 and (inside < 215).mean() > 0.03
    assert img[140:200, 300:1000].mean() > 250
    # 5 mm major lines: a periodic column pattern with the grid's pitch
    prof = 255 - img[420:470, 100:1500].mean(axis=(0, 2))
    spec = np.abs(np.fft.rfft(prof - prof.mean()))
    k = int(np.argmax(spec[150:350])) + 150  # the 1 mm dot columns
    assert abs(1400 / k - pr.GRID_PITCH_PX) < 0.05
    assert spec[k] > 8 * np.median(spec[5:700])


def test_separators(flat_page):
    _, page = flat_page
    gray = page.image.astype(float).mean(axis=2)
    for sx in L.SEPARATOR_X:
        x = int(sx)
        col = gray[320:790, x - 1:x + 3].min(axis=1)
        assert (col < 80).mean() > 0.97
        assert gray[850:950, x - 1:x + 3].min() > 120  # not across the rhythm strip (flat there)


def test_truth_windows(flat_page):
    e, page = flat_page
    tr = page.truth
    assert tr["rhythm_lead"] == "II" and np.allclose(tr["rhythm"], e.signals["II"])
    for ld in es.LEADS12:
        lt = tr["leads"][ld]
        r, c, start = L.lead_window(ld)
        assert (lt["row"], lt["col"], lt["start_s"]) == (r, c, start)
        i0 = int(round(start * e.fs))
        assert len(lt["signal"]) == int(L.SEGMENT_S * e.fs)
        assert np.allclose(lt["signal"], e.signals[ld][i0:i0 + len(lt["signal"])], atol=1e-6)
    assert tr["printed_hr"] == round(e.heart_rate)
    assert tr["st_mv"] == e.st_mv


def test_deep_s_reaches_next_row_and_clipping_at_grid():
    e = es.generate_12lead(es.TwelveLeadParams(heart_rate=60, r_scale=2.2, seed=2))
    page = pr.render_page(e, seed=1, jpeg_quality=None)
    gray = page.image.astype(float).mean(axis=2)
    # V2's S wave (about -2.7 mV, 156 px) goes below row 1's baseline into row 2's space
    t = [t for t in e.r_times if 5.0 < t < 7.4][0]
    i = int(round(t * e.fs))
    seg = e.signals["V2"][i - 40: i + 40]
    ts = int(np.argmin(seg)) + i - 40
    x = int(round(L.x_of_time(ts / e.fs)))
    y = L.BASELINE_Y[1] - seg.min() * L.PX_PER_MV
    assert y > (L.BASELINE_Y[1] + L.BASELINE_Y[2]) / 2
    assert gray[int(y) - 3: int(y) + 4, x - 2: x + 3].min() < 80
    assert page.truth["clipped_samples"]["V2"] == 0
    # nothing drawn outside the grid box by the traces: row 0 tall R clipped at the box top
    assert gray[L.GRID_BOX[1] - 4: L.GRID_BOX[1] - 1, 110:1532].min() > 200


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_pages(seed):
    page = pr.render_random_page(seed)
    assert page.image.shape == (L.PAGE_H, L.PAGE_W, 3)
    tr = page.truth
    assert tr["rhythm_lead"] in ("II", "III")
    assert 40 <= tr["heart_rate"] <= 160
    assert set(tr["leads"]) == set(es.LEADS12)
    p = tr["params"]
    assert 45 <= p.heart_rate <= 150 and -30 <= p.axis_deg <= 100


def test_random_pages_vary_plausibly():
    ps = [pr.random_params(s)[0] for s in range(60)]
    assert any(p.rhythm == "af" for p in ps) and any(p.rhythm == "sinus" for p in ps)
    assert any(p.st_mv for p in ps) and any(p.q_waves for p in ps)
    leads = {pr.random_params(s)[1] for s in range(60)}
    assert leads == {"II", "III"}


def test_seed_changes_header_not_traces():
    e = es.generate_12lead(es.normal(seed=1))
    a = pr.render_page(e, seed=1, jpeg_quality=None)
    b = pr.render_page(e, seed=2, jpeg_quality=None)
    assert a.truth["patient_id"] != b.truth["patient_id"] or a.truth["date"] != b.truth["date"]
    assert np.array_equal(a.truth["leads"]["V3"]["signal"], b.truth["leads"]["V3"]["signal"])
