"""Typed callback data: what a button carries packs and parses back, malformed data parses to None, and
every kind fits Telegram's 64 bytes."""

from __future__ import annotations

import pytest

from handlers.callbacks import (
    CaseLabel,
    ChooseRole,
    ExportDigitized,
    LessonList,
    LessonPage,
    NextQuestion,
    OpenLesson,
    PreviewAction,
    QuizAnswer,
    RemoveCase,
)

EXAMPLES = [
    ChooseRole("medical_student"),
    PreviewAction("confirm", "AbC_12-x"),
    PreviewAction("cancel", "AbC_12-x"),
    ExportDigitized("AbCdEfGh_123"),
    OpenLesson("reading-the-ecg"),
    LessonPage(3, "reading-the-ecg"),
    LessonList(),
    QuizAnswer(2, "drill:rate-12345"),
    NextQuestion(),
    CaseLabel("history_of_mi"),
    RemoveCase("a1b2c3d4"),
]


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda d: type(d).__name__)
def test_pack_then_parse_gives_it_back_and_no_other_kind_takes_it(data):
    packed = data.pack()
    assert len(packed.encode()) <= 64
    assert type(data).parse(packed) == data
    others = {type(d) for d in EXAMPLES} - {type(data)}
    assert not any(kind.matches(packed) for kind in others)


@pytest.mark.parametrize("kind, data", [
    (LessonPage, "learn:page:x:slug"), (LessonPage, "learn:page:1"), (QuizAnswer, "quiz:a:1"),
    (PreviewAction, "ecg:export:abc"), (ChooseRole, "role:admin"), (CaseLabel, "addcase:label:cat"),
    (LessonList, "learn:list:extra"), (OpenLesson, "learn:open:"), (RemoveCase, None),
])
def test_malformed_data_parses_to_none(kind, data):
    assert kind.parse(data) is None


def test_the_last_field_keeps_its_colons():
    assert QuizAnswer.parse("quiz:a:0:case:ab12") == QuizAnswer(0, "case:ab12")
