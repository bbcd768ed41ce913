"""End-to-end latency of the ECG flow through the real bot, with 1 and with N concurrent users.

The unmodified bot (`bot.app.BotRuntime`, production Telegram limits: one call a second to a chat) runs
against the Bot API emulator, an embedded nx-27017 and an embedded mail outbox, all on loopback in this
process. Each simulated user sends a real ECG image as a photo, presses Confirm on the preview (at once,
or `--confirm-delay` seconds after it arrived, as a person would) and waits for the result text and then
the heat map (the last message of the result). Measured per analysis, p50 / p95 / max over the
analyses of a scenario (`--rounds` rounds of `users` users at once, `--pause` seconds before each round so
that what a chat still gets after its heat map is out before its next photo):

- Confirm → result text: from the press to the diagnosis message;
- Confirm → heat map: from the press to the heat-map photo;
- photo → result text and photo → heat map: from sending the photo (the preview and the Confirm delay included);
- calls the bot made to that chat between the press and the result message, the result included (the
  emulator's own count): with one call a second to a chat, each call before the result costs ~1.15 s;

and the longest event-loop stall (a 10 ms ticker's worst lateness) while the analyses run. The users are
returning ones (the one-time photo tip already seen, set up before timing): the tip is one more chat call.

    python benchmarks/bench_bot.py                 # 1 user, then 20 concurrent users; Confirm at once
    python benchmarks/bench_bot.py --users 1 20 --confirm-delay 0 1.5 --json reports/bench_bot.json

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
from handlers import texts  # noqa: E402
from handlers.diagnosis import PHOTO_TIP_SHOWN  # noqa: E402

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


def is_result(message) -> bool:
    content = message.content or ""
    return "confidence" in content or "Uncertain" in content or texts.NOT_AN_ECG in content


def is_heatmap(message) -> bool:
    return message.kind == "photo" and (message.caption or "").startswith("Heat map")


async def timed_analysis(user, image: bytes, timeout: float, confirm_delay: float = 0.0,
                         emulator: BotAPIEmulator | None = None) -> dict:
    """One photo → Confirm → result → heat map; the instants (perf_counter) and the chat calls."""
    user.mark_all_read()
    photo = time.perf_counter()
    await user.send_photo(image)
    preview = await user.wait_for(lambda m: m.reply_markup is not None and "Confirm" in str(m.reply_markup), timeout)
    if confirm_delay:
        await asyncio.sleep(confirm_delay)
    confirm, confirm_wall = time.perf_counter(), time.time()
    await user.press("Confirm", preview.message_id)
    result = await user.wait_for(is_result, timeout)
    result_at, result_wall = time.perf_counter(), time.time()
    heatmap_at = None
    if texts.NOT_AN_ECG not in result.content:
        await user.wait_for(is_heatmap, timeout)
        heatmap_at = time.perf_counter()
    calls = None
    if emulator is not None:
        calls = sum(1 for r in list(emulator.core.requests)
                    if confirm_wall <= r.time <= result_wall and str(r.params.get("chat_id")) == str(user.chat_id))
    return {
        "confirm_to_result": result_at - confirm,
        "confirm_to_heatmap": None if heatmap_at is None else heatmap_at - confirm,
        "photo_to_result": result_at - photo,
        "photo_to_heatmap": None if heatmap_at is None else heatmap_at - photo,
        "chat_calls_to_result": calls,
    }


async def one_analysis(user, image: bytes, timeout: float) -> float:
    """Photo sent → heat map received, Confirm pressed at once (`benchmarks/bench_workers.py` uses it)."""
    timing = await timed_analysis(user, image, timeout)
    return timing["photo_to_heatmap"] if timing["photo_to_heatmap"] is not None else timing["photo_to_result"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_s": round(statistics.median(values), 3), "p95_s": round(percentile(values, 0.95), 3),
            "max_s": round(max(values), 3)}


async def scenario(users, images, timeout, confirm_delay: float = 0.0, rounds: int = 1,
                   emulator: BotAPIEmulator | None = None, pause: float = 0.0) -> dict:
    monitor = StallMonitor()
    monitor.start()
    timings = []
    for r in range(rounds):  # a different image per user and round
        await asyncio.sleep(pause)  # what the bot still sends after the heat map is out before the next photo
        timings += await asyncio.gather(*(
            timed_analysis(u, images[(r * len(users) + i) % len(images)], timeout, confirm_delay, emulator)
            for i, u in enumerate(users)))
    stall = await monitor.stop()
    out = {"users": len(users), "confirm_delay_s": confirm_delay, "analyses": len(timings)}
    for key in ("confirm_to_result", "confirm_to_heatmap", "photo_to_result", "photo_to_heatmap"):
        out[key] = summary([t[key] for t in timings if t[key] is not None])
    calls = [t["chat_calls_to_result"] for t in timings if t["chat_calls_to_result"] is not None]
    out["chat_calls_to_result"] = {"min": min(calls), "max": max(calls)} if calls else None
    out["longest_event_loop_stall_ms"] = round(stall * 1000, 1)
    return out


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
            images = pick_images(Path(args.images), max(args.users) * args.rounds)
            users = [await sign_in(runtime, emulator, outbox, 5000 + i) for i in range(max(args.users))]
            for user in users:  # returning users: the one-time tip after the preview was seen before
                runtime.application.user_data[user.id][PHOTO_TIP_SHOWN] = True
            # warm-up: after the models' loading (cold start: benchmarks/bench_inference.py), one analysis
            await one_analysis(users[0], images[0], args.timeout)
            for count in args.users:
                for delay in args.confirm_delay:
                    result = await scenario(users[:count], images, args.timeout, delay, args.rounds, emulator,
                                            args.pause)
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
    parser.add_argument("--confirm-delay", type=float, nargs="+", default=[0.0],
                        help="seconds between the preview and the press of Confirm; each value is a scenario")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each scenario, pooled")
    parser.add_argument("--pause", type=float, default=3.0,
                        help="seconds before each round: the chats' last calls (after the heat map) are out by then")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
