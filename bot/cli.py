"""`ecg-bot`: run the bot, and the operator's commands around it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import Settings

NO_TOKEN = """\
ECG Analyzer needs a Telegram bot token to talk to Telegram.

  1. In Telegram, open @BotFather and send /newbot; it answers with a token like 123456:ABC-DEF...
  2. Put it in the environment (or in a .env file next to where you run the bot):
         export TELEGRAM_BOT_TOKEN=123456:ABC-DEF...
  3. Run `ecg-bot` again.

No token yet? Try the whole bot in your browser first, without Telegram or internet:
     ecg-bot sandbox          (then open the URL it prints, http://127.0.0.1:8080 by default)

Everything else (database, mail) has embedded defaults; see .env.example for all settings.
"""


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL, and Bot API URLs contain the token: keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


NO_SMTP = """\
SMTP_HOST is not set, so no email (activation links, reset codes) would reach your users: they would only
be saved in the local outbox under $DATA_DIR/outbox. Set SMTP_HOST (and SMTP_PORT, SMTP_USERNAME,
SMTP_PASSWORD) to send mail, or set MAIL_OUTBOX_ONLY=true if keeping mail in the local outbox is what you
want (you then hand the links and codes to your users yourself).
"""


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not settings.telegram_bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    if not settings.smtp_host and not settings.mail_outbox_only:
        print(NO_SMTP, file=sys.stderr)
        return 2
    from accounts.limits import JWT_SECRET_MIN_LENGTH

    if settings.jwt_secret and len(settings.jwt_secret) < JWT_SECRET_MIN_LENGTH:
        print(f"JWT_SECRET must be at least {JWT_SECRET_MIN_LENGTH} characters (or unset it: one is generated "
              "and kept in $DATA_DIR/jwt_secret).", file=sys.stderr)
        return 2
    from telegram.error import InvalidToken, NetworkError

    from bot.app import BotRuntime

    try:
        asyncio.run(BotRuntime(settings, warm_model=True).run_until_signal())
    except KeyboardInterrupt:
        pass
    except InvalidToken:
        print("Telegram rejected TELEGRAM_BOT_TOKEN. Check it with @BotFather (/token), or try "
              "`ecg-bot sandbox`, which needs no token.", file=sys.stderr)
        return 2
    except NetworkError as exc:
        print(f"Cannot reach the Bot API at {settings.telegram_api_url}: {exc}. Check the network or "
              "TELEGRAM_API_URL, or try `ecg-bot sandbox`.", file=sys.stderr)
        return 1
    return 0


async def _set_instructor(settings: Settings, email: str, value: bool):
    from accounts.clock import SystemClock
    from accounts.service import AccountService
    from bot.app import open_database
    from bot.config import resolve_jwt_secret

    async with open_database(settings) as db:
        accounts = AccountService(db, None, SystemClock(), resolve_jwt_secret(settings), deep_link=lambda p: p)
        return await accounts.grant_instructor(email, value)


def cmd_instructor(args: argparse.Namespace) -> int:
    """`grant-instructor EMAIL` / `revoke-instructor EMAIL`: 0 when done, 1 for an unknown email or no database."""
    from accounts.errors import UnknownEmail
    from storage.mongo import StorageUnavailable

    value = args.command == "grant-instructor"
    try:
        user = asyncio.run(_set_instructor(Settings.from_env(), args.email, value))
    except UnknownEmail:
        print(f"No account with the email {args.email}.", file=sys.stderr)
        return 1
    except (StorageUnavailable, OSError, RuntimeError) as exc:
        print(f"The database is not reachable: {exc}", file=sys.stderr)
        return 1
    if value:
        print(f"{user.email} ({user.username}) is now an instructor; this applies at once, open sessions included.")
    else:
        print(f"{user.email} ({user.username}) is no longer an instructor; this applies at once.")
    return 0


# Subcommands with their own argument parsers; their modules (TensorFlow) load only when used.
DELEGATED = {
    "train": ("training.cli", "train_main", "train the diagnosis and heat-map models (the whole chain)"),
    "evaluate": ("training.cli", "evaluate_main", "evaluate a model and write a report"),
    "sandbox": ("bot.sandbox.main", "sandbox_main", "try the bot in a browser, no token needed: a local Telegram look-alike"),
    "predict": ("inference.cli", "predict_main", "classify ECG images: predict [--json] [--heatmap DIR] IMAGE..."),
    "worker": ("workers.worker", "worker_main",
               "run analyses for the bot from ANALYSIS_BROKER_URL (Celery over Redis): worker [--concurrency N]"),
    "digitize": ("inference.cli", "digitize_main",
                 "read signals and measurements off ECG images: digitize [--json] [--csv DIR] [--plot DIR] IMAGE..."),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecg-bot", description="ECG Analyzer Telegram bot")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)").set_defaults(func=cmd_run)
    for name, help_text in (
        ("grant-instructor", "make an account an instructor (lesson links, practice cases)"),
        ("revoke-instructor", "make an instructor an ordinary account again"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("email", help="the account's email")
        command.set_defaults(func=cmd_instructor)
    for name, (_, _, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text + " (see `ecg-bot %s --help`)" % name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        import importlib

        _configure_logging(False)
        module, function, _ = DELEGATED[argv[0]]
        return getattr(importlib.import_module(module), function)(argv[1:])
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    return getattr(args, "func", cmd_run)(args)


if __name__ == "__main__":
    sys.exit(main())
