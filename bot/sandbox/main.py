"""`ecg-bot sandbox`: the whole bot in a browser, without Telegram, a token or the internet."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
import tempfile
from pathlib import Path

from bot.config import Settings

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecg-bot sandbox",
        description="Run the bot against a local Telegram look-alike: a web chat with simulated users and a "
                    "mailbox. Embedded database and mail outbox; nothing leaves this machine.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port of the web page (default 8080)")
    parser.add_argument("--ephemeral", action="store_true",
                        help="keep all data in a temporary directory, deleted on exit (default: $DATA_DIR)")
    parser.add_argument("--no-model", action="store_true",
                        help="don't load the diagnosis model at start (it loads on the first ECG instead)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def sandbox_settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment (MONGODB_URI, SMTP_*, JWT_SECRET, DATA_DIR are honoured); the
    token and API URL are replaced by the emulator's when the sandbox starts."""
    settings = Settings.from_env()
    if data_dir is not None:
        settings = dataclasses.replace(settings, data_dir=data_dir)
    return settings


async def _serve(settings: Settings, host: str, port: int, warm_model: bool = True) -> int:
    from bot.sandbox.server import start_sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        sandbox = await start_sandbox(settings, host, port, warm_model=warm_model)
    except OSError as exc:
        print(f"ecg-bot sandbox: cannot listen on {host}:{port}: {exc.strerror or exc}. "
              f"Try another port: ecg-bot sandbox --port {port + 1}", file=sys.stderr)
        return 1
    try:
        shown = sandbox.page_url if host in ("127.0.0.1", "0.0.0.0", "::") else f"http://{host}:{port}/"
        print(shown, flush=True)  # the one line to open; logs follow on stderr
        log.info("sandbox ready: open %s (data in %s; Ctrl+C to stop)", shown, settings.data_dir)
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("listening on %s: anyone who can reach this address can use the sandbox as any user", host)
        await stop.wait()
    finally:
        log.info("stopping the sandbox")
        await sandbox.stop()
    return 0


def sandbox_main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.ephemeral:
            with tempfile.TemporaryDirectory(prefix="ecg-sandbox-") as tmp:
                return asyncio.run(_serve(sandbox_settings(Path(tmp)), args.host, args.port, not args.no_model))
        return asyncio.run(_serve(sandbox_settings(), args.host, args.port, not args.no_model))
    except KeyboardInterrupt:
        return 0
