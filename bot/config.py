"""Configuration, read only from environment variables (and a `.env` file if present).

Every variable is listed in `.env.example`. Unset optional services fall back to embedded
defaults: an `nx-27017` MongoDB-protocol server and a local aiosmtpd outbox under DATA_DIR.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    telegram_bot_token: str | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    mongodb_uri: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = True
    mail_from: str = "ECG Analyzer <no-reply@ecg-analyzer.local>"
    jwt_secret: str | None = field(default=None, repr=False)
    data_dir: Path = Path("./var")
    mail_outbox_only: bool = False  # MAIL_OUTBOX_ONLY: `ecg-bot run` may keep mail in the local outbox
    analysis_broker_url: str | None = field(default=None, repr=False)  # ANALYSIS_BROKER_URL: workers (Redis)
    lease_ttl: float = 10.0  # BOT_LEASE_TTL (s): the active/standby lease (bot/lease.py); takeover within ~1.2x
    webhook_url: str | None = None  # WEBHOOK_URL: webhook mode (bot/webhook.py) instead of polling
    webhook_secret: str | None = field(default=None, repr=False)  # WEBHOOK_SECRET: Telegram's secret_token
    webhook_listen: str = "0.0.0.0"  # WEBHOOK_LISTEN
    webhook_port: int = 8443  # WEBHOOK_PORT

    def __repr__(self) -> str:
        """No secret: the token, the SMTP password, the JWT secret and the MongoDB URI's password hidden."""
        from bot.log_redaction import MASK, _URI_PASSWORD

        uri = _URI_PASSWORD.sub(rf"\1{MASK}@", self.mongodb_uri) if self.mongodb_uri else None
        token = MASK if self.telegram_bot_token else None
        return (f"Settings(telegram_bot_token={token!r}, telegram_api_url={self.telegram_api_url!r}, "
                f"mongodb_uri={uri!r}, smtp_host={self.smtp_host!r}, smtp_port={self.smtp_port}, "
                f"smtp_username={self.smtp_username!r}, smtp_starttls={self.smtp_starttls}, "
                f"mail_from={self.mail_from!r}, data_dir={str(self.data_dir)!r}, "
                f"mail_outbox_only={self.mail_outbox_only})")

    def secrets(self) -> list[str]:
        """What must never reach a log (bot.log_redaction)."""
        found = [self.telegram_bot_token, self.smtp_password, self.jwt_secret]
        match = _uri_password(self.mongodb_uri)
        return [s for s in (*found, match, _uri_password(self.analysis_broker_url), self.webhook_secret) if s]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, load_dotenv_file: bool = True) -> "Settings":
        if env is None:
            if load_dotenv_file:
                from dotenv import load_dotenv

                load_dotenv(override=False)
            env = dict(os.environ)

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        return cls(
            telegram_bot_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=(get("TELEGRAM_API_URL") or DEFAULT_TELEGRAM_API_URL).rstrip("/"),
            mongodb_uri=get("MONGODB_URI"),
            smtp_host=get("SMTP_HOST"),
            smtp_port=int(get("SMTP_PORT") or 587),
            smtp_username=get("SMTP_USERNAME"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=_flag(get("SMTP_STARTTLS"), True),
            mail_from=get("MAIL_FROM") or cls.mail_from,
            jwt_secret=get("JWT_SECRET"),
            data_dir=Path(get("DATA_DIR") or "./var"),
            mail_outbox_only=_flag(get("MAIL_OUTBOX_ONLY"), False),
            analysis_broker_url=get("ANALYSIS_BROKER_URL"),
            lease_ttl=float(get("BOT_LEASE_TTL") or 10.0),
            webhook_url=get("WEBHOOK_URL"),
            webhook_secret=get("WEBHOOK_SECRET"),
            webhook_listen=get("WEBHOOK_LISTEN") or "0.0.0.0",
            webhook_port=int(get("WEBHOOK_PORT") or 8443),
        )

    @property
    def bot_api_base_url(self) -> str:
        """Base URL PTB puts before `<token>/<method>`."""
        return f"{self.telegram_api_url}/bot"

    @property
    def bot_api_file_url(self) -> str:
        return f"{self.telegram_api_url}/file/bot"


def _uri_password(uri: str | None) -> str | None:
    if not uri:
        return None
    from urllib.parse import urlsplit

    try:
        return urlsplit(uri).password
    except ValueError:
        return None


def resolve_jwt_secret(settings: Settings) -> str:
    """JWT_SECRET if set (at least JWT_SECRET_MIN_LENGTH characters, else ValueError), else one generated
    once and kept in DATA_DIR with 0600 permissions.

    The secret is never logged.
    """
    from accounts.limits import JWT_SECRET_MIN_LENGTH

    if settings.jwt_secret:
        if len(settings.jwt_secret) < JWT_SECRET_MIN_LENGTH:
            raise ValueError(f"JWT_SECRET must be at least {JWT_SECRET_MIN_LENGTH} characters "
                             "(or unset: one is generated)")
        return settings.jwt_secret
    path = settings.data_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
