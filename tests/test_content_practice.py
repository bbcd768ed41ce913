"""Practice: scoring, streaks, most-missed topics and the spaced-repetition order."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from content.practice import (
    BOX_INTERVALS,
    MAX_BOX,
    PracticeState,
    case_item,
    drill_item,
    due_items,
    parse_item,
    pick_next,
    points_for,
    record_answer,
    top_missed_topics,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def test_score_streak_and_counts():
    s = PracticeState()
    answers = [True, True, True, False, True]
    for i, ok in enumerate(answers):
        s = record_answer(s, f"case:{i}", "normal", ok, T0)
    assert (s.answered, s.correct) == (5, 4)
    assert s.streak == 1 and s.best_streak == 3
    assert s.score == points_for(1) + points_for(2) + points_for(3) + points_for(1)
    assert points_for(1) == 10 and points_for(2) == 12 and points_for(100) == 20
    assert s.accuracy == pytest.approx(0.8)


def test_record_answer_does_not_mutate_input():
    s0 = PracticeState()
    s1 = record_answer(s0, "case:a", "normal", True, T0)
    assert s0 == PracticeState() and s1.answered == 1


def test_top_missed_topics():
    s = PracticeState()
    for topic, n in (("rate", 3), ("myocardial_infarction", 5), ("qrs_width", 1), ("normal", 3)):
        for k in range(n):
            s = record_answer(s, f"x:{topic}{k}", topic, False, T0)
    s = record_answer(s, "x:ok", "history_of_mi", True, T0)
    assert top_missed_topics(s, 3) == [("myocardial_infarction", 5), ("normal", 3), ("rate", 3)]
    assert top_missed_topics(s, 10)[-1] == ("qrs_width", 1)
    assert top_missed_topics(PracticeState()) == []


def test_leitner_boxes_and_due_times():
    s = record_answer(PracticeState(), "case:a", "normal", True, T0)
    assert s.schedule["case:a"].box == 2 and s.schedule["case:a"].due == T0 + BOX_INTERVALS[2]
    for _ in range(10):
        s = record_answer(s, "case:a", "normal", True, T0)
    assert s.schedule["case:a"].box == MAX_BOX
    s = record_answer(s, "case:a", "normal", False, T0)
    item = s.schedule["case:a"]
    assert item.box == 1 and item.due == T0 + BOX_INTERVALS[1] and not item.last_correct
    assert BOX_INTERVALS[1] < BOX_INTERVALS[2]


def test_wrong_item_comes_back_before_right_ones():
    """One wrong, several right: after two more questions (or 10 minutes) the wrong one is
    asked first, while the right ones are not due for a day."""
    rng = random.Random(0)
    pool = ["case:a", "case:b", "case:c", "drill:rate-1", "drill:rate-2"]
    s = PracticeState()
    s = record_answer(s, "case:a", "normal", True, T0)
    s = record_answer(s, "case:b", "myocardial_infarction", False, T0)  # wrong
    s = record_answer(s, "case:c", "history_of_mi", True, T0)
    # one more question answered -> not yet 2 after the miss: a new item is asked
    nxt = pick_next(s, pool, T0 + timedelta(minutes=1), rng)
    assert nxt in ("drill:rate-1", "drill:rate-2")
    s = record_answer(s, nxt, "rate", True, T0 + timedelta(minutes=1))
    # now 2 questions after the miss: the wrong one comes back first, before new items
    assert pick_next(s, pool, T0 + timedelta(minutes=2), rng) == "case:b"
    # and by time alone: 10 minutes later it is due even with no questions in between
    s2 = record_answer(PracticeState(), "case:b", "normal", False, T0)
    assert pick_next(s2, ["case:b", "case:new"], T0 + timedelta(minutes=11), rng) == "case:b"
    assert pick_next(s2, ["case:b", "case:new"], T0 + timedelta(minutes=1), rng) == "case:new"


def test_right_items_wait_until_due_then_before_new():
    rng = random.Random(1)
    s = record_answer(PracticeState(), "case:a", "normal", True, T0)
    assert pick_next(s, ["case:a", "case:new"], T0 + timedelta(hours=1), rng) == "case:new"
    assert pick_next(s, ["case:a", "case:new"], T0 + timedelta(days=1, minutes=1), rng) == "case:a"


def test_wrong_due_before_right_due():
    s = PracticeState()
    s = record_answer(s, "case:right", "normal", True, T0)
    s = record_answer(s, "case:wrong", "normal", False, T0)
    later = T0 + timedelta(days=2)
    assert due_items(s, later) == ["case:wrong", "case:right"]
    assert pick_next(s, ["case:right", "case:wrong"], later, random.Random(2)) == "case:wrong"


def test_least_recently_seen_when_nothing_due_or_new():
    s = PracticeState()
    s = record_answer(s, "case:a", "normal", True, T0)
    s = record_answer(s, "case:b", "normal", True, T0 + timedelta(minutes=5))
    s = record_answer(s, "case:c", "normal", True, T0 + timedelta(minutes=9))
    assert pick_next(s, ["case:c", "case:b", "case:a"], T0 + timedelta(minutes=10), random.Random(3)) == "case:a"
    assert pick_next(s, [], T0) is None
    # items no longer offered (a removed case) are never picked
    assert pick_next(s, ["case:c"], T0 + timedelta(days=30)) == "case:c"


def test_round_trip_through_plain_dict():
    s = PracticeState()
    s = record_answer(s, "drill:rate-12", "rate", False, T0)
    s = record_answer(s, "case:65f0c0ffee", "myocardial_infarction", True, T0)
    d = s.to_dict()
    # storage friendly: no item ids as keys, only plain types
    assert isinstance(d["schedule"], list) and {x["item"] for x in d["schedule"]} == {"drill:rate-12", "case:65f0c0ffee"}
    assert PracticeState.from_dict(d) == s
    # pymongo returns naive UTC datetimes by default: accepted as UTC
    for x in d["schedule"]:
        x["due"] = x["due"].replace(tzinfo=None)
        x["last_seen"] = x["last_seen"].replace(tzinfo=None)
    assert PracticeState.from_dict(d) == s
    assert PracticeState.from_dict(None) == PracticeState() == PracticeState.from_dict({})


def test_item_ids():
    assert drill_item("rate-5") == "drill:rate-5" and parse_item("drill:rate-5") == ("drill", "rate-5")
    assert case_item("abc") == "case:abc" and parse_item("case:abc") == ("case", "abc")
    with pytest.raises(ValueError):
        parse_item("lesson:x")


def test_practice_candidates_mix_cases_seen_drills_and_fresh():
    from content.drills import drill_from_id
    from content.practice import practice_candidates

    rng = random.Random(4)
    s = record_answer(PracticeState(), "drill:rate-17", "rate", False, T0)
    c = practice_candidates(s, ["case:x", "case:y"], rng, fresh_drills=2, drill_kinds=("qrs_width",))
    assert c[:3] == ["case:x", "case:y", "drill:rate-17"] and len(c) == 5
    for item in c[3:]:
        kind, drill_id = parse_item(item)
        assert kind == "drill" and drill_from_id(drill_id, render=False).kind == "qrs_width"
    # the missed drill is picked once due, ahead of fresh drills and unseen cases
    s = record_answer(s, "case:z", "normal", True, T0)
    s = record_answer(s, "case:w", "normal", True, T0)
    assert pick_next(s, c, T0 + timedelta(minutes=1), rng) == "drill:rate-17"
