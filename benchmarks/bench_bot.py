"""End-to-end latency of the ECG flow through the real bot, with 1 and with N concurrent users.

The unmodified bot (`bot.app.BotRuntime`) runs against the Bot API emulator, an embedded nx-27017
and an embedded mail outbox, all on loopback in this process. Each simulated user sends a real ECG
image as a photo, presses Confirm on the preview and waits for the heat map (the last message of the
result). Measured: photo sent → result received (p50 / p95 / max) and the longest event-loop stall
(a 10 ms ticker's worst lateness) while the analyses run.

    python benchmarks/bench_bot.py                 # 1 user, then 20 concurrent users
    python benchmarks/bench_bot.py --users 1 5 --json results.json

Needs the ECG images in ../shared/data/ecg-images (or --images DIR) and the shipped model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accounts import passwords  # noqa: E402
from accounts.models import Role  # noqa: E402
from bot.app import BotRuntime  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.embedded import EmbeddedMongo, EmbeddedOutbox, message_text  # noqa: E402
from bot.emulator import BotAPIEmulator  # noqa: E402

DEFAULT_IMAGES = ROOT.parent / "shared" / "data" / "ecg-images"
PASSWORD = "Bench!mark1"


class StallMonitor:
    """The worst lateness of a 10 ms periodic wake-up: how long the event loop was blocked."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, loop.time() - before - self.period)

    def start(self) -> None:
        self.worst = 0.0
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> float:
        self._task.cancel()
        return self.worst


def pick_images(folder: Path, count: int) -> list[bytes]:
    files = sorted(p for p in folder.rglob("*.jpg"))
    if not files:
        raise SystemExit(f"no ECG images under {folder}")
    step = max(1, len(files) // count)
    return [files[(i * step) % len(files)].read_bytes() for i in range(count)]


async def sign_in(runtime: BotRuntime, emulator: BotAPIEmulator, outbox: EmbeddedOutbox, user_id: int):
    """Create, activate (with the emailed token) and log in an account through the domain: setup,
    not what is measured."""
    accounts = runtime.services.accounts
    email = f"user{user_id}@bench.example"
    await accounts.register(f"user{user_id}", email, passwords.hash_password(PASSWORD), Role.PROFESSIONAL, user_id)
    mail = await outbox.wait_for_message(email, timeout=10)
    await accounts.activate(re.search(r"\?start=([A-Za-z0-9_-]+)", message_text(mail)).group(1))
    session = await accounts.login(email, PASSWORD, telegram_id=user_id, chat_id=user_id)
    from handlers.jobs import schedule_expiry

    schedule_expiry(runtime.application, session)
    return emulator.user(user_id, first_name=f"User{user_id}")


async def one_analysis(user, image: bytes, timeout: float) -> float:
    user.mark_all_read()
    start = time.perf_counter()
    await user.send_photo(image)
    preview = await user.wait_for(lambda m: m.reply_markup is not None and "Confirm" in str(m.reply_markup), timeout)
    await user.press("Confirm", preview.message_id)
    await user.wait_for(lambda m: m.kind == "photo" and (m.caption or "").startswith("Heat map"), timeout)
    return time.perf_counter() - start


async def scenario(users, images, timeout) -> dict:
    monitor = StallMonitor()
    monitor.start()
    latencies = await asyncio.gather(*(one_analysis(u, images[i % len(images)], timeout) for i, u in enumerate(users)))
    stall = await monitor.stop()
    latencies = sorted(latencies)
    p95_index = max(0, int(round(0.95 * len(latencies))) - 1)
    return {
        "users": len(users),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(latencies[p95_index], 3),
        "max_s": round(latencies[-1], 3),
        "longest_event_loop_stall_ms": round(stall * 1000, 1),
    }


async def main_async(args) -> list[dict]:
    passwords.configure(time_cost=1, memory_cost=8, parallelism=1)  # account setup is not what we measure
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        mongo = EmbeddedMongo(tmp_path / "mongo")
        outbox = EmbeddedOutbox(tmp_path / "outbox")
        emulator = BotAPIEmulator()
        uri = await mongo.start()
        host, port = await outbox.start()
        url = await emulator.start()
        settings = Settings(
            telegram_bot_token=emulator.token,
            telegram_api_url=url,
            mongodb_uri=uri,
            smtp_host=host,
            smtp_port=port,
            smtp_starttls=False,
            jwt_secret="bench-secret-0123456789abcdef0123456789",
            data_dir=tmp_path / "data",
        )
        runtime = BotRuntime(settings, poll_timeout=1, warm_model=True)  # as `ecg-bot run` starts it
        results = []
        try:
            await runtime.start()
            images = pick_images(Path(args.images), max(args.users))
            users = [await sign_in(runtime, emulator, outbox, 5000 + i) for i in range(max(args.users))]
            # warm-up: after the models' loading (cold start: benchmarks/bench_inference.py), one analysis
            await one_analysis(users[0], images[0], args.timeout)
            for count in args.users:
                result = await scenario(users[:count], images, args.timeout)
                results.append(result)
                print(json.dumps(result))
        finally:
            await runtime.stop()
            await emulator.stop()
            await outbox.stop()
            await mongo.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--images", default=str(DEFAULT_IMAGES))
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
