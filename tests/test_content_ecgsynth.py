"""The synthetic ECG: its timing is what we asked for, measured back from the samples
and from the rendered pixels (independently of the generator's own bookkeeping)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy.signal import find_peaks

from content import ecgsynth as es
from content.ecgsynth import StripParams, generate_strip, measure_png, measure_signal, render_strip


def independent_rate(signal: np.ndarray, fs: int = es.FS) -> tuple[float, float]:
    """R peaks with plain scipy (not the module's detector): rate and RR CV."""
    peaks, _ = find_peaks(signal, height=0.6, distance=int(0.25 * fs))
    rr = np.diff(peaks) / fs
    return 60.0 / rr.mean(), rr.std() / rr.mean()


@pytest.mark.parametrize("hr", [40, 62, 75, 98, 130, 170])
def test_regular_rate_measured_matches(hr):
    strip = generate_strip(StripParams(heart_rate=hr, seed=hr))
    rate, cv = independent_rate(strip.signal)
    assert abs(rate - hr) <= 3
    assert abs(strip.true_rate - hr) <= 3
    assert cv < 0.03
    assert abs(measure_signal(strip.signal).rate_bpm - rate) < 0.5


@pytest.mark.parametrize("seed", range(6))
def test_af_is_irregular_without_p_waves(seed):
    strip = generate_strip(StripParams(heart_rate=90, rhythm="af", seed=seed))
    rate, cv = independent_rate(strip.signal)
    assert cv > 0.10
    assert abs(rate - strip.true_rate) <= 3
    # no P waves: the segment before each QRS carries only the low fibrillatory baseline
    # (checked where the previous T wave has ended 200 ms before the QRS)
    x = strip.signal
    checked = 0
    for prev, onset in zip(strip.qrs_onsets, strip.qrs_onsets[1:]):
        if prev + strip.qt_ms / 1000 > onset - 0.2:
            continue
        i = int(onset * es.FS)
        seg = x[i - int(0.2 * es.FS): i - int(0.02 * es.FS)]
        assert np.max(np.abs(seg)) < 0.1
        checked += 1
    assert checked >= 2


def test_signal_shape_and_units():
    strip = generate_strip(StripParams(heart_rate=60, duration_s=10, seed=1))
    assert strip.signal.shape == (10 * es.FS,)
    assert 0.9 < strip.signal.max() < 1.6  # R wave ~1.2 mV
    assert strip.signal.min() > -0.6
    assert strip.qrs_count == len(strip.r_times) in (9, 10, 11)


@pytest.mark.parametrize("qrs", [70, 90, 100, 135, 150, 170])
def test_qrs_width_measured(qrs):
    strip = generate_strip(StripParams(heart_rate=70, qrs_ms=qrs, seed=qrs))
    m = measure_signal(strip.signal)
    assert m.qrs_ms is not None and abs(m.qrs_ms - qrs) <= 15
    assert (m.qrs_ms >= 120) == (qrs >= 120)


@pytest.mark.parametrize("pr", [100, 140, 180, 240, 300])
def test_pr_interval_measured(pr):
    strip = generate_strip(StripParams(heart_rate=65, pr_ms=pr, seed=pr))
    m = measure_signal(strip.signal)
    assert m.pr_ms is not None and abs(m.pr_ms - pr) <= 12


def test_qt_is_exact_by_construction():
    """The T wave ends exactly QT after the QRS onset: after it the line is flat."""
    strip = generate_strip(StripParams(heart_rate=60, qt_ms=420, seed=2))
    x = strip.signal
    onset = strip.qrs_onsets[2]
    end = int(round((onset + 0.420) * es.FS))
    assert np.all(np.abs(x[end + 1: end + 50]) < 1e-9)  # isoelectric TP segment
    assert np.abs(x[end - 10]) > 0.01  # still inside the T wave just before
    assert es.default_qt_ms(60) == pytest.approx(400.0)


def test_av_blocks_and_pvcs():
    mob2 = generate_strip(StripParams(heart_rate=75, av_block="mobitz2", seed=3))
    rr = mob2.rr_s
    assert rr.max() > 1.7 * np.median(rr)  # a dropped beat makes a double RR
    chb = generate_strip(StripParams(heart_rate=38, qrs_ms=140, av_block="complete", atrial_rate=85, seed=4))
    assert abs(chb.true_rate - 38) <= 3
    pvc = generate_strip(StripParams(heart_rate=72, pvc_every=4, seed=5))
    assert pvc.rr_cv > 0.1
    with pytest.raises(ValueError):
        generate_strip(StripParams(rhythm="nonsense"))


def test_deterministic():
    a = generate_strip(StripParams(heart_rate=88, rhythm="af", seed=9)).signal
    b = generate_strip(StripParams(heart_rate=88, rhythm="af", seed=9)).signal
    c = generate_strip(StripParams(heart_rate=88, rhythm="af", seed=10)).signal
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    "params",
    [StripParams(heart_rate=72, seed=1), StripParams(heart_rate=110, rhythm="af", seed=2),
     StripParams(heart_rate=165, seed=4)],
    ids=["sinus72", "af110", "sinus165"],
)
def test_rendered_strip_reads_back_from_pixels(params):
    """What a student measures on the picture: rate and regularity from the pixels,
    using only the paper (grid spacing, 25 mm/s) and the calibration pulse."""
    strip = generate_strip(params)
    png = render_strip(strip.signal)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    assert img.size == es.paper_size_px(10.0) == (1664, 384)
    m = measure_png(png)
    assert abs(m.rate_bpm - strip.true_rate) <= 1.0  # a 4 % error in paper speed would show
    assert (m.rr_cv > 0.10) == (params.rhythm == "af")
    assert len(m.r_times) == strip.qrs_count


def test_pixel_reader_detects_wrong_paper_speed():
    """If the strip were drawn at another speed, the pixel measurement would disagree:
    the reader really depends on the drawing (the test can fail)."""
    strip = generate_strip(StripParams(heart_rate=60, seed=1))
    # resample to simulate 50 mm/s drawn on a 25 mm/s grid: everything twice as wide
    stretched = np.repeat(strip.signal[: len(strip.signal) // 2], 2)
    m = measure_png(render_strip(stretched))
    assert abs(m.rate_bpm - 30) <= 3
