"""Outgoing mail: a `Mailer` protocol and an aiosmtplib implementation with retry and back-off."""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Awaitable, Callable, Protocol, runtime_checkable

import aiosmtplib

from .errors import MailNotSent

__all__ = ["Mailer", "SmtpMailer", "build_message"]

log = logging.getLogger(__name__)


@runtime_checkable
class Mailer(Protocol):
    async def send(self, to: str, subject: str, text: str, html: str) -> None:
        """Deliver one message or raise MailNotSent."""
        ...


def build_message(mail_from: str, to: str, subject: str, text: str, html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "ecg-analyzer.local"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _permanent(exc: BaseException) -> bool:
    """5xx answers (bad recipient, auth refused…) will not get better by retrying."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(getattr(r, "code", 0) >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(exc, aiosmtplib.SMTPConnectError):
        return exc.code >= 500
    return False


class SmtpMailer:
    """Sends over SMTP with aiosmtplib.

    `retries` is the number of *extra* attempts after the first one (default: 4 attempts in all), waiting
    backoff, 2·backoff, 4·backoff… seconds between them. Temporary failures (connection refused, timeout,
    4xx) are retried; permanent 5xx answers are not. Raises MailNotSent at the end. Logs never contain the
    recipient address or the body.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        mail_from: str = "ECG Analyzer <no-reply@ecg-analyzer.local>",
        timeout: float = 10,
        retries: int = 3,
        backoff: float = 0.5,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.username = username
        self._password = password
        self.starttls = starttls
        self.mail_from = mail_from
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the password
        return f"SmtpMailer(host={self.host!r}, port={self.port}, starttls={self.starttls})"

    @classmethod
    def from_settings(
        cls,
        settings: Any,  # bot.config.Settings or anything with its smtp_* / mail_from fields
        host_override: str | None = None,
        port_override: int | None = None,
        **kwargs: Any,
    ) -> "SmtpMailer":
        """From SMTP_* settings. With host_override (the embedded outbox) the connection is plain:
        no STARTTLS and no login."""
        if host_override is not None:
            return cls(
                host=host_override,
                port=int(port_override if port_override is not None else settings.smtp_port),
                username=None,
                password=None,
                starttls=False,
                mail_from=settings.mail_from,
                **kwargs,
            )
        if not settings.smtp_host:
            raise ValueError("SMTP_HOST is not set (use host_override for the embedded outbox)")
        return cls(
            host=settings.smtp_host,
            port=int(port_override if port_override is not None else settings.smtp_port),
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            mail_from=settings.mail_from,
            **kwargs,
        )

    async def _send_once(self, msg: EmailMessage) -> None:
        implicit_tls = self.port == 465
        await aiosmtplib.send(
            msg,
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self._password if self.username else None,
            use_tls=implicit_tls,
            start_tls=False if implicit_tls else self.starttls,
            timeout=self.timeout,
        )

    async def send(self, to: str, subject: str, text: str, html: str) -> None:
        msg = build_message(self.mail_from, to, subject, text, html)
        attempts = self.retries + 1
        last: BaseException | None = None
        for attempt in range(1, attempts + 1):
            try:
                await self._send_once(msg)
                if attempt > 1:
                    log.info("mail %r sent on attempt %d", subject, attempt)
                return
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                last = exc
                permanent = _permanent(exc)
                log.warning(
                    "mail %r: attempt %d/%d to %s:%d failed: %s%s",
                    subject, attempt, attempts, self.host, self.port, type(exc).__name__,
                    " (permanent)" if permanent else "",
                )
                if permanent or attempt == attempts:
                    break
                await self._sleep(self.backoff * (2 ** (attempt - 1)))
        raise MailNotSent(f"mail could not be sent: {type(last).__name__}") from last
