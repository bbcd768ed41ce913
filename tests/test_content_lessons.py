"""Lessons: bundled files load and respect Telegram's limits; malformed files fail loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from content import lessons as L
from content.figures import FIGURES
from content.lessons import (
    CAPTION_LIMIT,
    LESSON_FOR_LABEL,
    MESSAGE_LIMIT,
    LessonError,
    deep_link_payload,
    get_lesson,
    load_lessons,
    markdown_to_telegram_html,
    slug_from_payload,
)

REQUIRED = {"how-to-read-an-ecg", "myocardial-infarction", "abnormal-heartbeat", "history-of-mi", "normal-ecg"}


@pytest.fixture(scope="module")
def lessons():
    return load_lessons()


def test_required_lessons_present_and_sorted(lessons):
    slugs = [x.slug for x in lessons]
    assert REQUIRED <= set(slugs)
    assert len(slugs) == len(set(slugs))
    assert [x.order for x in lessons] == sorted(x.order for x in lessons)
    assert lessons[0].slug == "how-to-read-an-ecg"
    for x in lessons:
        assert x.audience in {"students", "instructors"}
        assert x.title and x.body and x.pages


def test_every_lesson_has_references_to_sources(lessons):
    for x in lessons:
        assert len(x.references) >= 3, x.slug
        joined = " ".join(x.references)
        assert re.search(r"Guyton|Thygesen|AHA|ESC", joined), x.slug
    mi = get_lesson("myocardial-infarction")
    assert any("Fourth Universal Definition" in r for r in mi.references)


def test_pages_fit_telegram_limits(lessons):
    for x in lessons:
        for i, page in enumerate(x.pages):
            assert len(markdown_to_telegram_html(page.text)) <= MESSAGE_LIMIT, (x.slug, i)
            assert len(page.text) <= L.PAGE_LIMIT
            assert page.text.strip() or page.figure, (x.slug, i)
            assert "figure:" not in page.text  # markers are turned into Page.figure
            if page.figure:
                assert page.figure in FIGURES
                assert 0 < len(page.caption_html) <= CAPTION_LIMIT


def test_pages_cover_the_whole_body(lessons):
    """Pagination loses nothing: every non-figure paragraph of the body is on a page."""
    for x in lessons:
        paged = "\n\n".join(p.text for p in x.pages)
        for para in re.split(r"\n\s*\n", x.body):
            para = para.strip()
            if para and not para.startswith("!["):
                assert para in paged, (x.slug, para[:40])
        assert [p.figure for p in x.pages if p.figure] == x.figures


def test_pages_start_at_headings(lessons):
    for x in lessons:
        for p in x.pages:
            if p.text:
                assert p.text.startswith("## "), (x.slug, p.text[:40])


def test_key_medical_content(lessons):
    """Spot-check numbers a student must learn (guards against careless edits)."""
    read = get_lesson("how-to-read-an-ecg").body
    for needle in ("25 mm/s", "10 mm/mV", "0.04 s", "0.2 s", "300", "1500", "Bazett", "aVF", "multiply by **6**"):
        assert needle in read, needle
    mi = get_lesson("myocardial-infarction").body
    for needle in ("≥ 1 mm (0.1 mV) in all leads other than V2–V3", "≥ 2 mm in men aged 40 or over",
                   "≥ 2.5 mm in men under 40", "≥ 1.5 mm in women", "two contiguous leads", "Reciprocal"):
        assert needle in mi, needle
    normal = get_lesson("normal-ecg").body
    for needle in ("60–100/min", "120–200 ms", "< 120 ms", "450 ms in men", "460 ms in women", "−30° to +90°"):
        assert needle in normal, needle
    old = get_lesson("history-of-mi").body
    for needle in ("0.03 s", "0.02 s", "QS", "aneurysm", "III", "aVR", "V1"):
        assert needle in old, needle


def test_labels_map_to_lessons():
    assert set(LESSON_FOR_LABEL) == {"myocardial_infarction", "abnormal_heartbeat", "history_of_mi", "normal"}
    for label, slug in LESSON_FOR_LABEL.items():
        assert get_lesson(slug) is not None, label
        assert L.lesson_for_label(label).slug == slug
    assert L.lesson_for_label("unknown") is None
    assert get_lesson("no-such-lesson") is None


def test_deep_link_payloads(lessons):
    for x in lessons:
        payload = deep_link_payload(x.slug)
        assert payload == x.deep_link_payload == f"lesson-{x.slug}"
        assert len(payload) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", payload)
        assert slug_from_payload(payload) == x.slug
    assert slug_from_payload("other-thing") is None
    assert slug_from_payload("lesson-") is None
    assert slug_from_payload("lesson-Bad Slug") is None


# --------------------------------------------------------------------------- markdown


def test_markdown_to_html_escapes_and_converts():
    md = "## Rate & rhythm\n\n**Bold** and _italic_ a<b> & `code`\n- item one\n* item two\n  - nested"
    out = markdown_to_telegram_html(md)
    assert out.split("\n")[0] == "<b>Rate &amp; rhythm</b>"
    assert "<b>Bold</b> and <i>italic</i> a&lt;b&gt; &amp; <code>code</code>" in out
    assert "• item one" in out and "• item two" in out and "  • nested" in out
    assert "<b" not in markdown_to_telegram_html("a <b>not a tag</b>").replace("&lt;b&gt;", "")


def test_markdown_leaves_snake_case_and_lone_markers():
    assert markdown_to_telegram_html("history_of_mi and my_label") == "history_of_mi and my_label"
    assert markdown_to_telegram_html("2 * 3 = 6, 5 ** 2") == "2 * 3 = 6, 5 ** 2"
    assert markdown_to_telegram_html("## **Bold** heading") == "<b>Bold heading</b>"
    assert markdown_to_telegram_html("**V1–V3** ≥ 2 mm") == "<b>V1–V3</b> ≥ 2 mm"


def test_bundled_html_tags_are_balanced(lessons):
    for x in lessons:
        for p in x.pages:
            h = p.html
            for tag in ("b", "i", "code"):
                assert h.count(f"<{tag}>") == h.count(f"</{tag}>"), (x.slug, tag)


# --------------------------------------------------------------------------- malformed files

GOOD = """---
slug: {slug}
title: A test lesson
order: {order}
audience: students
---
## Section

Some text with a figure.

![A caption.](figure:pqrst)

## References

- Hall JE, Hall ME. Guyton and Hall Textbook of Medical Physiology.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_tmp_lesson_loads(tmp_path):
    write(tmp_path, "b.md", GOOD.format(slug="second", order=2))
    write(tmp_path, "a.md", GOOD.format(slug="first", order=1))
    got = load_lessons(tmp_path)
    assert [x.slug for x in got] == ["first", "second"]
    assert got[0].figures == ["pqrst"] and got[0].pages[0].caption == "A caption."
    assert got[0].references == ["Hall JE, Hall ME. Guyton and Hall Textbook of Medical Physiology."]
    assert get_lesson("second", tmp_path).order == 2


def test_references_in_header(tmp_path):
    text = GOOD.format(slug="x", order=1).replace("audience: students\n", "audience: students\nreferences:\n  - Ref A\n  - Ref B\n")
    text = text.split("## References")[0]
    write(tmp_path, "x.md", text)
    assert load_lessons(tmp_path)[0].references == ["Ref A", "Ref B"]


BAD_CASES = {
    "no_front_matter.md": "## Just a body\n\ntext\n",
    "unclosed.md": "---\nslug: x\ntitle: t\n",
    "missing_title.md": GOOD.format(slug="x", order=1).replace("title: A test lesson\n", ""),
    "bad_slug.md": GOOD.format(slug="Bad Slug!", order=1),
    "long_slug.md": GOOD.format(slug="a" * 58, order=1),
    "bad_order.md": GOOD.format(slug="x", order="first"),
    "bad_audience.md": GOOD.format(slug="x", order=1).replace("audience: students", "audience: everyone"),
    "unknown_figure.md": GOOD.format(slug="x", order=1).replace("figure:pqrst", "figure:nope"),
    "no_references.md": GOOD.format(slug="x", order=1).split("## References")[0],
    "huge_paragraph.md": GOOD.format(slug="x", order=1).replace("Some text with a figure.", "word " * 800),
    "long_caption.md": GOOD.format(slug="x", order=1).replace("A caption.", "c" * 1100),
    "inline_figure.md": GOOD.format(slug="x", order=1).replace(
        "Some text with a figure.", "Text ![c](figure:pqrst) inline."),
    "two_figures_one_section.md": GOOD.format(slug="x", order=1).replace(
        "![A caption.](figure:pqrst)", "![A.](figure:pqrst)\n\n![B.](figure:grid)"),
    "garbage_header.md": GOOD.format(slug="x", order=1).replace("order: 1", "this is not a field"),
}


REASON = {
    "no_front_matter.md": "front matter",
    "unclosed.md": "not closed",
    "missing_title.md": "'title' is missing",
    "bad_slug.md": "slug",
    "long_slug.md": "deep link",
    "bad_order.md": "not an integer",
    "bad_audience.md": "audience",
    "unknown_figure.md": "unknown figure",
    "no_references.md": "no references",
    "huge_paragraph.md": "split it",
    "long_caption.md": "1024",
    "inline_figure.md": "own line",
    "two_figures_one_section.md": "2 figures",
    "garbage_header.md": "key: value",
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_malformed_lesson_raises_with_file_name(tmp_path, name):
    write(tmp_path, name, BAD_CASES[name])
    with pytest.raises(LessonError) as exc:
        load_lessons(tmp_path)
    assert str(exc.value).startswith(name + ":")
    assert REASON[name] in str(exc.value)


def test_duplicate_slug_names_both_files(tmp_path):
    write(tmp_path, "one.md", GOOD.format(slug="same", order=1))
    write(tmp_path, "two.md", GOOD.format(slug="same", order=2))
    with pytest.raises(LessonError) as exc:
        load_lessons(tmp_path)
    assert "one.md" in str(exc.value) and "two.md" in str(exc.value)


def test_empty_directory_raises(tmp_path):
    with pytest.raises(LessonError):
        load_lessons(tmp_path)


def test_long_lesson_is_split_into_pages(tmp_path):
    sections = "\n\n".join(f"## Part {i}\n\n" + ("Sentence about the ECG. " * 60).strip() for i in range(8))
    text = GOOD.format(slug="long", order=1).replace("## Section\n\nSome text with a figure.", sections)
    write(tmp_path, "long.md", text)
    lesson = load_lessons(tmp_path)[0]
    assert len(lesson.pages) >= 4
    assert all(len(p.html) <= MESSAGE_LIMIT for p in lesson.pages)
    assert sum(p.text.count("## Part") for p in lesson.pages) == 8
