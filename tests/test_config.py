"""Configuration comes only from the environment; the generated JWT secret is private and stable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_TELEGRAM_API_URL, Settings, resolve_jwt_secret

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_with_nothing_configured():
    settings = Settings.from_env({})
    assert settings.telegram_bot_token is None
    assert settings.telegram_api_url == DEFAULT_TELEGRAM_API_URL
    assert settings.mongodb_uri is None and settings.smtp_host is None  # embedded servers
    assert settings.data_dir == Path("./var")
    assert settings.bot_api_base_url == "https://api.telegram.org/bot"
    assert settings.bot_api_file_url == "https://api.telegram.org/file/bot"


def test_every_variable_is_read():
    env = {
        "TELEGRAM_BOT_TOKEN": "1:abc",
        "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
        "MONGODB_URI": "mongodb://db/ecg",
        "SMTP_HOST": "smtp.example.com",
        "SMTP_PORT": "465",
        "SMTP_USERNAME": "u",
        "SMTP_PASSWORD": "p",
        "SMTP_STARTTLS": "false",
        "MAIL_FROM": "x@example.com",
        "JWT_SECRET": "s",
        "DATA_DIR": "/tmp/ecg",
        "MAIL_OUTBOX_ONLY": "true",
    }
    settings = Settings.from_env(env)
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.bot_api_base_url == "http://127.0.0.1:8081/bot"
    assert (settings.smtp_port, settings.smtp_starttls, settings.mail_from) == (465, False, "x@example.com")
    assert settings.data_dir == Path("/tmp/ecg")
    assert "smtp_password" not in repr(settings) and "jwt_secret" not in repr(settings)
    assert settings.mail_outbox_only and not Settings.from_env({}).mail_outbox_only


def test_repr_shows_no_secret():
    settings = Settings(telegram_bot_token="123456:SECRET-token", mongodb_uri="mongodb://bot:dbpass99@db:27017/ecg",
                        smtp_password="smtppass77", jwt_secret="j" * 40)
    text = repr(settings)
    for secret in ("SECRET-token", "dbpass99", "smtppass77", "j" * 40):
        assert secret not in text and secret not in str(settings)
    assert "db:27017/ecg" in text


def test_env_example_lists_every_variable():
    example = (ROOT / ".env.example").read_text()
    names = {line.split("=")[0] for line in example.splitlines() if line and not line.startswith("#")}
    assert names == {
        "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "MONGODB_URI", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME",
        "SMTP_PASSWORD", "SMTP_STARTTLS", "MAIL_FROM", "JWT_SECRET", "DATA_DIR", "MAIL_OUTBOX_ONLY",
        "ANALYSIS_BROKER_URL", "ANALYSIS_VISIBILITY_TIMEOUT", "BOT_LEASE_TTL",
        "WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_LISTEN", "WEBHOOK_PORT",
    }


def test_generated_jwt_secret_is_private_and_stable(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    first = resolve_jwt_secret(settings)
    path = tmp_path / "data" / "jwt_secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first) >= 32
    assert resolve_jwt_secret(settings) == first
    given = "given-" + "x" * 26
    assert resolve_jwt_secret(Settings(data_dir=tmp_path / "data", jwt_secret=given)) == given
    with pytest.raises(ValueError):  # too short to sign sessions with
        resolve_jwt_secret(Settings(data_dir=tmp_path / "data", jwt_secret="given"))


def test_run_with_a_token_but_no_smtp_refuses_unless_outbox_only_is_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "MAIL_"))}
    env.update(TELEGRAM_BOT_TOKEN="123:abc", TELEGRAM_API_URL="http://127.0.0.1:9", DATA_DIR=str(tmp_path / "d"))
    result = subprocess.run([sys.executable, "-m", "bot"], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=60)
    assert result.returncode == 2
    assert "SMTP_HOST" in result.stderr and "MAIL_OUTBOX_ONLY=true" in result.stderr
    assert "Traceback" not in result.stderr and "123:abc" not in result.stderr


def test_outbox_files_are_private_and_pruned_after_a_week(tmp_path):
    import time

    from bot.embedded import OUTBOX_KEEP_SECONDS, EmbeddedOutbox

    box = EmbeddedOutbox(tmp_path / "outbox")
    path = box._save(b"Subject: code 123456\r\n\r\nhello")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    old = time.time() - OUTBOX_KEEP_SECONDS - 60
    os.utime(path, (old, old))
    fresh = box._save(b"Subject: x\r\n\r\nhello")
    assert box.prune() == 1
    assert box.paths() == [fresh]


def test_no_token_gives_a_friendly_explanation_not_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "bot"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rejected_token_gives_a_clear_message(tmp_path):
    """The Bot API emulator answers 401 to an unknown token, as Telegram does."""
    script = (
        "import asyncio, os, subprocess, sys\n"
        "from bot.emulator import BotAPIEmulator\n"
        "async def main():\n"
        "    async with BotAPIEmulator() as emu:\n"
        "        env = dict(os.environ, TELEGRAM_BOT_TOKEN='999:WRONG', TELEGRAM_API_URL=emu.url, DATA_DIR=sys.argv[1],\n"
        "                   MAIL_OUTBOX_ONLY='true')\n"
        "        proc = await asyncio.create_subprocess_exec(sys.executable, '-m', 'bot', env=env,\n"
        "            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)\n"
        "        _, err = await asyncio.wait_for(proc.communicate(), 90)\n"
        "        print(proc.returncode); print(err.decode())\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    code, _, stderr = result.stdout.partition("\n")
    assert code.strip() == "2", result.stdout + result.stderr
    assert "rejected TELEGRAM_BOT_TOKEN" in stderr and "Traceback" not in stderr
