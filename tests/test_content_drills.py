"""Drills: the labelled answer is right by construction, proven by measuring the
generated strip independently of the labels."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

from content import drills as D
from content.drills import KINDS, Drill, DrillError, check_answer, drill_from_id, drill_strip, generate_drill
from content.ecgsynth import measure_png, measure_signal
from content.lessons import get_lesson

N_PER_KIND = 25  # signal-only (no rendering): fast


def drills_of(kind: str, n: int = N_PER_KIND, seed: int = 12345) -> list[Drill]:
    rng = random.Random(seed)
    return [generate_drill(rng, kind, render=False) for _ in range(n)]


def test_drill_shape_and_limits():
    rng = random.Random(7)
    for _ in range(40):
        d = generate_drill(rng, render=False)
        assert d.kind in KINDS
        assert 2 <= len(d.options) <= 4
        assert all(0 < len(o) <= D.MAX_OPTION_LEN for o in d.options)
        assert len(set(d.options)) == len(d.options)
        assert 0 <= d.correct_index < len(d.options)
        assert len(d.id) <= D.MAX_ID_LEN and len("quiz:drill:" + d.id) <= 64
        assert d.question.endswith("10 mm/mV.") and len(d.question) <= 1024
        assert d.explanation and len(d.explanation) <= 1024
        assert get_lesson(d.lesson_slug) is not None
        assert d.item_id == f"drill:{d.id}" and d.topic == d.kind


def test_every_kind_appears_and_both_classes_occur():
    for kind in ("regularity", "qrs_width"):
        assert {d.correct_index for d in drills_of(kind)} == {0, 1}
    assert {d.correct_index for d in drills_of("pr_interval", 40)} == {0, 1, 2}
    rng = random.Random(1)
    assert {generate_drill(rng, render=False).kind for _ in range(60)} == set(KINDS)


def test_rate_answer_matches_measured_rate():
    for d in drills_of("rate"):
        strip = drill_strip(d.id)
        m = measure_signal(strip.signal)
        values = [int(o.split()[0]) for o in d.options]
        assert values == sorted(values)
        assert min(b - a for a, b in zip(values, values[1:])) >= 20  # well separated
        assert abs(m.rate_bpm - d.params["true_rate"]) <= 3
        assert abs(values[d.correct_index] - m.rate_bpm) <= 3 + 2.5  # answer rounded to 5 bpm
        nearest = min(range(len(values)), key=lambda k: abs(values[k] - m.rate_bpm))
        assert nearest == d.correct_index, (d.id, values, m.rate_bpm)
        if d.params["rhythm"] == "af":  # the 10-second method a student uses picks it too
            count6 = len(m.r_times) * 6
            assert min(range(len(values)), key=lambda k: abs(values[k] - count6)) == d.correct_index


def test_regularity_answer_matches_measured_rr_variation():
    for d in drills_of("regularity"):
        cv = measure_signal(drill_strip(d.id).signal).rr_cv
        if d.options[d.correct_index] == "Irregular":
            assert cv > 0.10, d.id
        else:
            assert cv < 0.03, d.id


def test_qrs_width_answer_matches_measured_width():
    for d in drills_of("qrs_width"):
        m = measure_signal(drill_strip(d.id).signal)
        assert abs(m.qrs_ms - d.params["qrs_ms"]) <= 15
        wide = d.options[d.correct_index].startswith("Wide")
        assert (m.qrs_ms >= 120) == wide, (d.id, m.qrs_ms)


def test_pr_answer_matches_measured_pr():
    for d in drills_of("pr_interval", 30):
        m = measure_signal(drill_strip(d.id).signal)
        assert abs(m.pr_ms - d.params["pr_ms"]) <= 12
        measured_class = 0 if m.pr_ms < 120 else (1 if m.pr_ms <= 200 else 2)
        assert measured_class == d.correct_index, (d.id, m.pr_ms)


def test_drill_from_id_round_trips():
    rng = random.Random(99)
    for kind in KINDS:
        d = generate_drill(rng, kind, render=False)
        again = drill_from_id(d.id, render=False)
        assert (again.kind, again.options, again.correct_index, again.explanation, again.params) == (
            d.kind, d.options, d.correct_index, d.explanation, d.params)
        ok, graded = check_answer(d.id, d.correct_index)
        assert ok and graded.explanation == d.explanation
        wrong = (d.correct_index + 1) % len(d.options)
        assert check_answer(d.id, wrong)[0] is False


def test_same_seed_same_drill_different_seed_differs():
    a = generate_drill(random.Random(5), render=False)
    b = generate_drill(random.Random(5), render=False)
    c = generate_drill(random.Random(6), render=False)
    assert a.id == b.id and a.params == b.params
    assert a.id != c.id


@pytest.mark.parametrize("bad", ["", "rate", "rate-", "rate-x", "nope-12", "rate--1", "rate-007", "rate-99999999999"])
def test_bad_ids_rejected(bad):
    with pytest.raises(DrillError):
        drill_from_id(bad, render=False)


def test_rendered_drill_image_agrees_with_answer():
    """One rendered drill of each measurable-from-pixels kind: the picture shows the answer."""
    rate = drills_of("rate", 1, seed=3)[0]
    rendered = drill_from_id(rate.id)
    img = Image.open(io.BytesIO(rendered.image_png))
    assert img.format == "PNG" and img.size == (1664, 384)
    m = measure_png(rendered.image_png)
    values = [int(o.split()[0]) for o in rate.options]
    assert min(range(len(values)), key=lambda k: abs(values[k] - m.rate_bpm)) == rate.correct_index

    irregular = next(d for d in drills_of("regularity", 10, seed=4) if d.correct_index == 1)
    m = measure_png(drill_from_id(irregular.id).image_png)
    assert m.rr_cv > 0.10
    assert np.isfinite(m.rate_bpm)
