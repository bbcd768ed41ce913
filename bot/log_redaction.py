"""Log hygiene: every log record, from every logger at every level, is redacted when it is created.

`install(secrets)` wraps the logging module's record factory (so no handler can be missed, pytest's and
PTB's included): the message (formatted with its arguments) and any exception text lose
- the given secrets (bot token, JWT secret, SMTP password, the MongoDB URI's password),
- email addresses,
- 6-digit numbers (reset codes) and `/start` payloads and `start=` links (activation tokens),
- what users typed: the `text`, `caption` and `data` fields of updates PTB logs at DEBUG (passwords
  before they are deleted, codes, addresses).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable

MASK = "[redacted]"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_CODE = re.compile(r"(?<![\w.:-])\d{6}(?!\w)")  # a 6-digit word, not part of a time, path or id
_START = re.compile(r"(/start(?:@\w+)?\s+|[?&]start=)[^\s'\"&]+")
_FIELDS = re.compile(
    r"""((?:['"])(?:text|caption|data|first_name|last_name|username)(?:['"])\s*:\s*)(['"])(?:\\.|(?!\2).)*\2""",
    re.DOTALL,
)
_KWARGS = re.compile(  # the same fields in a repr: Message(..., text='...')
    r"""(\b(?:text|caption|data|first_name|last_name|username)=)(['"])(?:\\.|(?!\2).)*\2""", re.DOTALL
)
_URI_PASSWORD = re.compile(r"(mongodb(?:\+srv)?://[^:/@\s]+:)[^@\s]+@")

_lock = threading.Lock()
_secrets: list[str] = []
_installed = False


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, MASK)
    text = _URI_PASSWORD.sub(rf"\1{MASK}@", text)
    text = _FIELDS.sub(rf"\1\2{MASK}\2", text)
    text = _KWARGS.sub(rf"\1\2{MASK}\2", text)
    text = _START.sub(rf"\1{MASK}", text)
    text = _EMAIL.sub(MASK, text)
    return _CODE.sub(MASK, text)


def install(secrets: Iterable[str | None]) -> None:
    """Redact these secrets (and the patterns above) from every log record from now on. Idempotent; a
    later call adds secrets."""
    global _installed
    with _lock:
        for secret in secrets:
            if secret and len(secret) >= 4 and secret not in _secrets:
                _secrets.append(secret)
        _secrets.sort(key=len, reverse=True)
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                record.msg = redact(record.getMessage())
                record.args = None
                if record.exc_info and record.exc_info[0] is not None:
                    record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
                if record.stack_info:
                    record.stack_info = redact(record.stack_info)
            except Exception:  # never lose a log line to redaction; keep it without its arguments
                record.msg, record.args = f"{record.msg!s:.0}{MASK} (unformattable log message)", None
            return record

        logging.setLogRecordFactory(factory)
