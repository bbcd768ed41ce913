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


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if not settings.telegram_bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.app import BotRuntime

    try:
        asyncio.run(BotRuntime(settings, warm_model=True).run_until_signal())
    except KeyboardInterrupt:
        pass
    return 0


# Subcommands with their own argument parsers; their modules (TensorFlow) load only when used.
DELEGATED = {
    "train": ("training.cli", "train_main", "train the ResNet50 classifier"),
    "evaluate": ("training.cli", "evaluate_main", "evaluate a model and write a report"),
    "sandbox": ("bot.sandbox", "sandbox_main", "try the bot in a browser, no token needed: a local Telegram look-alike"),
    "predict": ("inference.cli", "predict_main", "classify ECG images: predict [--json] [--heatmap DIR] IMAGE..."),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecg-bot", description="ECG Analyzer Telegram bot")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)").set_defaults(func=cmd_run)
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
