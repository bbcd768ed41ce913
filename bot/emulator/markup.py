"""Text formatting (parse_mode) and keyboard validation, the way Telegram does it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .errors import bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_SUPPORTED = set(_SIMPLE_TAGS) | {"a", "span", "tg-emoji"}


class _EntityParser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.out: list[str] = []
        self.length = 0  # UTF-16 units emitted so far
        self.stack: list[tuple[str, int, dict]] = []
        self.entities: list[dict] = []

    def _offset(self) -> int:
        line, col = self.getpos()
        lines = self.source.split("\n")
        return len("\n".join(lines[: line - 1]).encode()) + (1 if line > 1 else 0) + len(
            lines[line - 1][:col].encode()
        )

    def handle_starttag(self, tag, attrs):
        attrs_d = dict(attrs)
        if tag not in _SUPPORTED or (tag == "span" and attrs_d.get("class") != "tg-spoiler"):
            raise bad_request(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {self._offset()}'
            )
        self.stack.append((tag, self.length, attrs_d))

    def handle_startendtag(self, tag, attrs):
        raise bad_request(
            f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {self._offset()}'
        )

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            expected = f'"</{self.stack[-1][0]}>"' if self.stack else "no end tag"
            raise bad_request(
                f"can't parse entities: Unmatched end tag at byte offset {self._offset()}, "
                f'expected {expected}, found "</{tag}>"'
            )
        name, start, attrs = self.stack.pop()
        length = self.length - start
        if length <= 0:
            return
        entity: dict = {"offset": start, "length": length}
        if name == "a":
            href = attrs.get("href") or ""
            m = re.fullmatch(r"tg://user\?id=(\d+)", href)
            if m:
                entity.update(type="text_mention", user={"id": int(m.group(1)), "is_bot": False, "first_name": ""})
            else:
                entity.update(type="text_link", url=href)
        elif name == "tg-emoji":
            entity.update(type="custom_emoji", custom_emoji_id=attrs.get("emoji-id", ""))
        elif name == "span":
            entity.update(type="spoiler")
        elif name == "blockquote" and "expandable" in attrs:
            entity.update(type="expandable_blockquote")
        else:
            entity["type"] = _SIMPLE_TAGS[name]
        if name == "code" and self.stack and self.stack[-1][0] == "pre":
            cls = attrs.get("class") or ""
            if cls.startswith("language-"):
                # Telegram folds <pre><code class="language-x"> into one pre entity with a language.
                self.stack[-1][2]["_language"] = cls[len("language-"):]
                return
        if name == "pre" and attrs.get("_language"):
            entity["language"] = attrs["_language"]
        self.entities.append(entity)

    def handle_data(self, data):
        self.out.append(data)
        self.length += utf16_len(data)


def parse_html(text: str) -> tuple[str, list[dict]]:
    for m in re.finditer(r"<(?![A-Za-z/])", text):
        raise bad_request(
            "can't parse entities: Unexpected end of name token at byte offset "
            f"{len(text[: m.start()].encode())}"
        )
    parser = _EntityParser(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise bad_request(
            f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"'
        )
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.out), entities


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def check_markdown_v2(text: str) -> str:
    """Reject unescaped reserved characters outside code, as Telegram does; returns the text
    with the markup characters and escapes removed (entities are not computed)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_code = None  # "`" or "```"
    open_marks: list[str] = []
    link_depth = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if in_code:
            if text.startswith(in_code, i):
                i += len(in_code)
                in_code = None
            else:
                out.append(c)
                i += 1
            continue
        if text.startswith("```", i):
            in_code = "```"
            i += 3
            continue
        if c == "`":
            in_code = "`"
            i += 1
            continue
        if text.startswith("||", i) or text.startswith("__", i):
            mark = text[i : i + 2]
            _toggle(open_marks, mark)
            i += 2
            continue
        if c in "*_~":
            _toggle(open_marks, c)
            i += 1
            continue
        if c == "[" or (c == "!" and text.startswith("![", i)):  # link or custom emoji
            link_depth += 1
            i += 1 if c == "[" else 2
            continue
        if c == "]" and link_depth:
            link_depth -= 1
            close = text.find(")", i)
            if text.startswith("(", i + 1) and close != -1:
                i = close + 1
            else:
                i += 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if c in _MDV2_RESERVED:
            raise bad_request(
                f"can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(c)
        i += 1
    if in_code or open_marks or link_depth:
        raise bad_request(
            f"can't parse entities: Can't find end of the entity starting at byte offset {len(text.encode())}"
        )
    return "".join(out)


def _toggle(stack: list[str], mark: str) -> None:
    if mark in stack:
        while stack and stack[-1] != mark:
            stack.pop()
        if stack:
            stack.pop()
    else:
        stack.append(mark)


def format_text(text: str, parse_mode: str | None, entities: list | None) -> tuple[str, list[dict]]:
    """Returns the plain text and its entities, raising Telegram's errors on bad markup."""
    mode = (parse_mode or "").strip()
    if mode.lower() == "html":
        return parse_html(text)
    if mode == "MarkdownV2":
        return check_markdown_v2(text), []
    if mode.lower() == "markdown":
        return re.sub(r"[*_`]", "", text), []
    if mode:
        raise bad_request("unsupported parse_mode")
    return text, list(entities or [])


_CALLBACK_KINDS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def validate_reply_markup(markup) -> dict | None:
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                if button["text"] == "":
                    raise bad_request("BUTTON_TEXT_INVALID")
                kinds = [k for k in _CALLBACK_KINDS if k in button]
                if not kinds:
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                        raise bad_request(
                            f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                        )
        return markup
    if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")
