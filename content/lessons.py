"""Lessons: Markdown files with a small front-matter header, loaded and validated.

File format (``content/lessons/<anything>.md``)::

    ---
    slug: how-to-read-an-ecg
    title: How to read an ECG
    order: 1
    audience: students
    references:            # optional here if the body has a "## References" section
      - Guyton and Hall ...
    ---
    Body in chat-friendly Markdown: "## " headings, **bold**, _italics_, "- " bullets,
    and figure markers on their own line: ![caption](figure:pqrst)

The body is split into :class:`Page` objects of at most :data:`PAGE_LIMIT` characters at
heading/paragraph boundaries; a page carries at most one figure (name + caption). Any
problem raises :class:`LessonError` naming the file, so a malformed lesson fails the
tests and the startup, never a chat.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from content.figures import FIGURE_NAMES

LESSONS_DIR = Path(__file__).resolve().parent / "lessons"
PAGE_LIMIT = 3500  # Markdown characters per page (Telegram: 4096 per message after HTML)
PAGE_SOFT = 2000  # sections are packed together up to this size (short pages read better in chat)
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
DEEP_LINK_PREFIX = "lesson-"
START_PAYLOAD_LIMIT = 64
AUDIENCES = frozenset({"students", "instructors"})
REQUIRED_FIELDS = ("slug", "title", "order", "audience")

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FIGURE_RE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\(figure:(?P<name>[^)\s]+)\)\s*$")
FIGURE_ANYWHERE_RE = re.compile(r"!\[[^\]]*\]\(figure:[^)]*\)")

# Classifier label keys -> lesson slugs ("Explain this diagnosis").
LESSON_FOR_LABEL: dict[str, str] = {
    "myocardial_infarction": "myocardial-infarction",
    "abnormal_heartbeat": "abnormal-heartbeat",
    "history_of_mi": "history-of-mi",
    "normal": "normal-ecg",
}


class LessonError(ValueError):
    """A lesson file is malformed; the message starts with the file name."""


@dataclass(frozen=True)
class Page:
    text: str  # Markdown (convert with markdown_to_telegram_html)
    figure: str | None = None  # figure name in content.figures.FIGURES
    caption: str = ""  # Markdown caption of the figure (<= 1024 chars as HTML)

    @property
    def html(self) -> str:
        return markdown_to_telegram_html(self.text)

    @property
    def caption_html(self) -> str:
        return markdown_to_telegram_html(self.caption)


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    order: int
    audience: str
    body: str
    references: list[str]
    pages: list[Page]
    figures: list[str] = field(default_factory=list)
    path: str = ""

    @property
    def deep_link_payload(self) -> str:
        return deep_link_payload(self.slug)


# --------------------------------------------------------------------------- Markdown -> HTML

_BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC_RE = re.compile(r"(?<![A-Za-z0-9_])_(?=\S)(.+?)(?<=\S)_(?![A-Za-z0-9_])")
_CODE_RE = re.compile(r"`([^`\n]+)`")
_HEADING_RE = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET_RE = re.compile(r"^(\s*)[-*+]\s+")


def markdown_to_telegram_html(text: str) -> str:
    """Convert the small Markdown subset of the lessons to Telegram HTML.

    ``<``, ``>`` and ``&`` are escaped; ``**bold**`` -> ``<b>``, ``_italic_`` -> ``<i>``,
    `` `code` `` -> ``<code>``, ``## Heading`` -> ``<b>Heading</b>``, ``- item`` -> ``• item``.
    Underscores inside words (snake_case) are left alone.
    """
    out: list[str] = []
    for line in text.split("\n"):
        line = html.escape(line, quote=False)
        m = _HEADING_RE.match(line)
        if m:
            inner = m.group(1).replace("**", "")
            out.append(f"<b>{_inline(inner)}</b>")
            continue
        b = _BULLET_RE.match(line)
        if b:
            line = f"{b.group(1)}• {line[b.end():]}"
        out.append(_inline(line))
    return "\n".join(out)


def _inline(s: str) -> str:
    s = _CODE_RE.sub(r"<code>\1</code>", s)
    s = _BOLD_RE.sub(r"<b>\1</b>", s)
    s = _ITALIC_RE.sub(r"<i>\1</i>", s)
    return s


# --------------------------------------------------------------------------- deep links


def deep_link_payload(slug: str) -> str:
    """The ``/start`` payload that opens a lesson: ``lesson-<slug>``."""
    return DEEP_LINK_PREFIX + slug


def slug_from_payload(payload: str) -> str | None:
    """Inverse of :func:`deep_link_payload`; None if the payload is not a lesson link."""
    if payload and payload.startswith(DEEP_LINK_PREFIX):
        slug = payload[len(DEEP_LINK_PREFIX):]
        return slug if SLUG_RE.match(slug) else None
    return None


# --------------------------------------------------------------------------- parsing


def _parse_front_matter(text: str, name: str) -> tuple[dict, str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise LessonError(f"{name}: missing front matter (the file must start with a '---' line)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise LessonError(f"{name}: front matter is not closed by a '---' line") from None
    meta: dict = {}
    current_list: str | None = None
    for n, raw in enumerate(lines[1:end], start=2):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        item = re.match(r"^\s+-\s+(.*)$", raw) or re.match(r"^-\s+(.*)$", raw)
        if item and current_list is not None:
            meta[current_list].append(item.group(1).strip())
            continue
        kv = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$", raw)
        if not kv:
            raise LessonError(f"{name}: line {n} of the header is not 'key: value': {raw!r}")
        key, value = kv.group(1), kv.group(2).strip()
        if key in meta:
            raise LessonError(f"{name}: header field {key!r} appears twice")
        if value == "":
            meta[key] = []
            current_list = key
        else:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            meta[key] = value
            current_list = None
    body = "\n".join(lines[end + 1:]).strip("\n")
    return meta, body


def _split_references(body: str) -> tuple[str, list[str]]:
    """Bullet items of a '## References' section (the section stays in the body)."""
    m = re.search(r"^##\s+References\s*$", body, flags=re.M)
    if not m:
        return body, []
    rest = body[m.end():]
    nxt = re.search(r"^##\s+", rest, flags=re.M)
    section = rest[: nxt.start()] if nxt else rest
    refs = [re.sub(r"^\s*[-*+]\s+", "", ln).strip() for ln in section.split("\n") if _BULLET_RE.match(ln)]
    return body, refs


def _blocks(body: str) -> list[str]:
    """Paragraph blocks (separated by blank lines); a figure marker is always its own block."""
    blocks: list[str] = []
    for para in re.split(r"\n\s*\n", body):
        para = para.strip("\n")
        if not para.strip():
            continue
        cur: list[str] = []
        for ln in para.split("\n"):
            if FIGURE_RE.match(ln.strip()):
                if cur:
                    blocks.append("\n".join(cur))
                    cur = []
                blocks.append(ln.strip())
            else:
                cur.append(ln)
        if cur:
            blocks.append("\n".join(cur))
    return blocks


def _sections(blocks: list[str]) -> list[list[str]]:
    """Group blocks into sections, each starting at a heading block."""
    sections: list[list[str]] = []
    for block in blocks:
        if block.lstrip().startswith("#") or not sections:
            sections.append([block])
        else:
            sections[-1].append(block)
    return sections


def _paginate(body: str, name: str, limit: int, soft: int = PAGE_SOFT) -> list[Page]:
    """Pack whole sections (heading + paragraphs + figure) into pages of at most ``soft``
    characters and one figure; a section longer than that gets a page of its own, split
    at paragraph boundaries only if it exceeds the hard ``limit``."""
    pages: list[Page] = []
    text: list[str] = []
    fig: list[tuple[str, str]] = []

    def joined(parts: list[str]) -> int:
        return len("\n\n".join(parts))

    def flush() -> None:
        nonlocal text, fig
        if text or fig:
            f = fig[0] if fig else (None, "")
            pages.append(Page("\n\n".join(text), f[0], f[1]))
        text, fig = [], []

    for section in _sections(_blocks(body)):
        s_text: list[str] = []
        s_figs: list[tuple[str, str]] = []
        for block in section:
            m = FIGURE_RE.match(block)
            if m:
                s_figs.append((m.group("name"), m.group("caption").strip()))
                continue
            if FIGURE_ANYWHERE_RE.search(block):
                raise LessonError(f"{name}: a figure marker must stand on its own line: {block[:60]!r}")
            if len(block) > limit:
                raise LessonError(
                    f"{name}: a paragraph is {len(block)} characters, more than a page ({limit}); split it"
                )
            s_text.append(block)
        if len(s_figs) > 1:
            raise LessonError(f"{name}: a section has {len(s_figs)} figures; one per section (page) at most")
        fits = joined(text + s_text) <= soft and len(fig) + len(s_figs) <= 1
        if fits:
            text += s_text
            fig += s_figs
            continue
        flush()
        fig = s_figs
        for block in s_text:
            if text and joined(text + [block]) > limit:
                flush()
            text.append(block)
    flush()
    return pages


def parse_lesson(path: Path, *, page_limit: int = PAGE_LIMIT) -> Lesson:
    name = Path(path).name
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LessonError(f"{name}: cannot read: {exc}") from exc
    meta, body = _parse_front_matter(raw, name)
    for key in REQUIRED_FIELDS:
        if key not in meta or meta[key] in ("", []):
            raise LessonError(f"{name}: header field {key!r} is missing")
    slug = meta["slug"]
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise LessonError(f"{name}: slug {slug!r} must be lowercase letters, digits, '-' or '_'")
    if len(deep_link_payload(slug)) > START_PAYLOAD_LIMIT:
        raise LessonError(f"{name}: slug {slug!r} is too long for a deep link (lesson-<slug> <= 64 chars)")
    try:
        order = int(meta["order"])
    except (TypeError, ValueError):
        raise LessonError(f"{name}: order {meta['order']!r} is not an integer") from None
    audience = meta["audience"]
    if audience not in AUDIENCES:
        raise LessonError(f"{name}: audience {audience!r} is not one of {sorted(AUDIENCES)}")
    title = meta["title"]
    if not isinstance(title, str) or len(title) > 60:
        raise LessonError(f"{name}: title must be a single line of at most 60 characters")
    if not body.strip():
        raise LessonError(f"{name}: the lesson has no body")
    body, section_refs = _split_references(body)
    header_refs = meta.get("references", [])
    if isinstance(header_refs, str):
        header_refs = [header_refs]
    references = list(header_refs) + [r for r in section_refs if r not in header_refs]
    if not references:
        raise LessonError(f"{name}: no references (add a 'references:' list or a '## References' section)")
    pages = _paginate(body, name, page_limit)
    figures: list[str] = []
    for i, page in enumerate(pages, start=1):
        if len(page.html) > MESSAGE_LIMIT:
            raise LessonError(f"{name}: page {i} is {len(page.html)} characters as HTML (limit {MESSAGE_LIMIT})")
        if page.figure is not None:
            if page.figure not in FIGURE_NAMES:
                raise LessonError(f"{name}: unknown figure {page.figure!r} on page {i}")
            if not page.caption:
                raise LessonError(f"{name}: figure {page.figure!r} has no caption")
            if len(page.caption_html) > CAPTION_LIMIT:
                raise LessonError(f"{name}: caption of figure {page.figure!r} is longer than {CAPTION_LIMIT}")
            figures.append(page.figure)
    return Lesson(slug, title, order, audience, body, references, pages, figures, str(path))


def load_lessons(directory: str | Path | None = None) -> list[Lesson]:
    """Load and validate every ``*.md`` lesson in ``directory`` (default: content/lessons),
    sorted by ``order`` then slug. Raises :class:`LessonError` on any problem."""
    d = Path(directory) if directory is not None else LESSONS_DIR
    files = sorted(d.glob("*.md"))
    if not files:
        raise LessonError(f"{d}: no lesson files (*.md)")
    lessons = [parse_lesson(f) for f in files]
    seen: dict[str, str] = {}
    for lesson in lessons:
        fname = Path(lesson.path).name
        if lesson.slug in seen:
            raise LessonError(f"{fname}: slug {lesson.slug!r} is also used by {seen[lesson.slug]}")
        seen[lesson.slug] = fname
    return sorted(lessons, key=lambda x: (x.order, x.slug))


@lru_cache(maxsize=1)
def _default_lessons() -> tuple[Lesson, ...]:
    return tuple(load_lessons())


def all_lessons() -> list[Lesson]:
    """The bundled lessons (loaded once and cached)."""
    return list(_default_lessons())


def get_lesson(slug: str, directory: str | Path | None = None) -> Lesson | None:
    """The lesson with this slug, or None."""
    lessons = _default_lessons() if directory is None else load_lessons(directory)
    return next((x for x in lessons if x.slug == slug), None)


def lesson_for_label(label: str) -> Lesson | None:
    """The lesson explaining a classifier label (e.g. 'myocardial_infarction')."""
    slug = LESSON_FOR_LABEL.get(label)
    return get_lesson(slug) if slug else None
