"""Analyses on `ecg-bot worker` processes: throughput and latency with 1 and with 2 worker processes.

The unmodified bot (`bot.app.BotRuntime` with ANALYSIS_BROKER_URL set) runs in this process against the Bot
API emulator, an embedded nx-27017 and an embedded mail outbox, as in `benchmarks/bench_bot.py` (whose users,
images and photo → Confirm → heat-map flow this reuses). The analyses run on real `ecg-bot worker`
subprocesses (Celery, concurrency 1 each, models loaded at start) through a real `redis-server` on a loopback
port in a temporary directory (`tests/_processes.py`). For each worker count, and with the bot keeping
Telegram's sending limits (production: 30 calls a second, one a second to a chat) and without them (relaxed:
what the workers alone allow), after one warm-up analysis per worker, `--users` users at once send a photo
and press Confirm. Measured:

- analyses per second end to end: users / time from the first photo to the last heat map;
- the workers' own rate: each worker process's completions per second between its first and its last
  (from Celery's stored results), summed; and an analysis's run time inside its worker (Celery's log);
- photo sent → heat map received, p50 / p95 / max, and one user alone (the floor);
- CPU seconds used meanwhile by the bot (with the emulator and the database), the workers, Redis and every
  other process on the machine (/proc), against the cores' capacity; analyses each worker process ran.

    python benchmarks/bench_workers.py                               # 20 users; 1, then 2 workers
    python benchmarks/bench_workers.py --workers 1 2 --users 20 --json reports/bench_workers.json

Needs the ECG images in ../shared/data/ecg-images (or --images DIR), the shipped models and redis-server.
Other work on the machine takes the workers' CPU: its share is recorded, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accounts import passwords  # noqa: E402
from bench_bot import DEFAULT_IMAGES, one_analysis, pick_images, sign_in  # noqa: E402
from bot.app import BotRuntime  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.embedded import EmbeddedMongo, EmbeddedOutbox  # noqa: E402
from bot.emulator import BotAPIEmulator  # noqa: E402
from bot.telegram_limits import PRODUCTION, RELAXED  # noqa: E402
from tests._processes import RedisServer, Worker  # noqa: E402

LIMITS = {"production": PRODUCTION, "relaxed": RELAXED}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)]


def new_outcomes(redis_client, seen: set[bytes]) -> list[tuple[str, float]]:
    """(worker process, finished at: epoch s) of each analysis finished since the last call, from Celery's
    stored task results (the outcome names the worker that ran it)."""
    from datetime import datetime

    outcomes = []
    for key in redis_client.scan_iter("celery-task-meta-*"):
        if key in seen:
            continue
        seen.add(key)
        meta = json.loads(redis_client.get(key))
        if meta.get("status") != "SUCCESS":
            continue
        result = meta.get("result") or {}
        outcomes.append((result.get("worker", result.get("status", "?")),
                         datetime.fromisoformat(meta["date_done"]).timestamp()))
    return outcomes


def cpu_seconds_by_group(groups: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the live processes of each named set of process groups."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(groups, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pgrp, cpu = int(fields[2]), (int(fields[11]) + int(fields[12])) / tick
        for name, pgrps in groups.items():
            if pgrp in pgrps:
                totals[name] += cpu
    return totals


def machine_busy_seconds() -> float:
    """Core-seconds every process on the machine has used so far (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


SUCCEEDED = re.compile(r"Task ecg\.analyse\[[^\]]+\] succeeded in ([0-9.]+)s")


def task_runtimes(workers: list[Worker]) -> list[float]:
    """Each analysis's run time inside its worker so far (Celery's 'succeeded in' log lines)."""
    return [float(m.group(1)) for w in workers for m in SUCCEEDED.finditer(w.log())]


def workers_rate(outcomes: list[tuple[str, float]]) -> float | None:
    """The workers' own rate: each process's completions per second between its first and its last (it runs
    one analysis at a time and its queue never ran dry), summed over the processes. Without the bot's part:
    the photo -> preview -> Confirm lead-in and the result's delivery."""
    by_worker = collections.defaultdict(list)
    for worker, finished in outcomes:
        by_worker[worker].append(finished)
    rates = [(len(t) - 1) / (max(t) - min(t)) for t in by_worker.values() if len(t) > 1 and max(t) > min(t)]
    return round(sum(rates), 3) if rates else None


async def scenario(users, images, timeout: float, groups: dict[str, set[int]], workers: list[Worker]) -> dict:
    cpu_before, busy_before = cpu_seconds_by_group(groups), machine_busy_seconds()
    runs_before = len(task_runtimes(workers))
    started = time.perf_counter()
    latencies = await asyncio.gather(*(one_analysis(u, images[i % len(images)], timeout) for i, u in enumerate(users)))
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)  # the workers' last log lines
    cpu_after, busy_after = cpu_seconds_by_group(groups), machine_busy_seconds()
    cpu = {name: round(cpu_after[name] - cpu_before[name], 1) for name in groups}
    # how busy the machine's cores were meanwhile, by part (their capacity: cpus x seconds), other work included
    cpu["other processes on the machine"] = round(busy_after - busy_before - sum(cpu.values()), 1)
    runtimes = task_runtimes(workers)[runs_before:]
    return {
        "users": len(users),
        "seconds": round(elapsed, 2),
        "cpu_seconds": cpu,
        "cpu_capacity_seconds": round(elapsed * os.cpu_count(), 1),
        "analysis_in_worker_p50_s": round(statistics.median(runtimes), 3) if runtimes else None,
        "analyses_per_second": round(len(users) / elapsed, 3),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
    }


async def main_async(args) -> dict:
    import redis

    passwords.configure(time_cost=1, memory_cost=8, parallelism=1)  # account setup is not what we measure
    load_before = os.getloadavg()
    runs, alone = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        broker = RedisServer(tmp_path / "redis").start()
        mongo, outbox = EmbeddedMongo(tmp_path / "mongo"), EmbeddedOutbox(tmp_path / "outbox")
        emulator = BotAPIEmulator()
        uri = await mongo.start()
        host, port = await outbox.start()
        url = await emulator.start()
        settings = Settings(
            telegram_bot_token=emulator.token, telegram_api_url=url, mongodb_uri=uri, smtp_host=host, smtp_port=port,
            smtp_starttls=False, jwt_secret="bench-workers-secret-0123456789abcdef0123", data_dir=tmp_path / "data",
            analysis_broker_url=broker.url,
        )
        runtime: BotRuntime | None = None
        workers: list[Worker] = []
        client = redis.Redis.from_url(broker.url)
        seen: set[bytes] = set()

        async def bot_with(limits: str) -> BotRuntime:
            """The bot as `ecg-bot run` starts it (analyses on the workers), keeping Telegram's limits or not;
            restarted on the same database when the limits change (the users stay logged in)."""
            nonlocal runtime
            if runtime is not None:
                await runtime.stop()
            runtime = BotRuntime(settings, poll_timeout=1, telegram_limits=LIMITS[limits])
            await runtime.start()
            assert runtime.services.remote_analyses is not None
            return runtime

        try:
            await bot_with(args.telegram_limits[0])
            images = pick_images(Path(args.images), args.users)
            users = [await sign_in(runtime, emulator, outbox, 6000 + i) for i in range(args.users)]
            current = args.telegram_limits[0]
            for count in args.workers:
                while len(workers) < count:  # one process a core, models loaded at start, one analysis at a time
                    n = len(workers) + 1
                    worker = Worker(broker.url, tmp_path / f"w{n}.log", name=f"w{n}", warm=True, concurrency=1,
                                    visibility=120)
                    workers.append(worker)
                    await asyncio.to_thread(worker.wait_ready, 300)
                for limits in args.telegram_limits:
                    if limits != current:
                        await bot_with(limits)
                        current = limits
                    # warm-up: the first analysis in a process pays for lazy set-up; one per worker, at once
                    await asyncio.gather(*(one_analysis(users[i], images[i], args.timeout) for i in range(count)))
                    if limits not in alone:  # the floor: one user alone
                        alone[limits] = round(await one_analysis(users[0], images[0], args.timeout), 3)
                    await asyncio.sleep(1)  # the warm-up's results stored
                    new_outcomes(client, seen)
                    load = os.getloadavg()[0]
                    groups = {"bot, emulator, database (this process group)": {os.getpgrp()},
                              "workers": {w.pid for w in workers}, "redis": {broker.child.pid}}
                    result = {"workers": count, "telegram_limits": limits,
                              **await scenario(users, images, args.timeout, groups, workers)}
                    outcomes = new_outcomes(client, seen)
                    result["worker_analyses_per_second"] = workers_rate(outcomes)
                    result["analyses_per_worker_process"] = sorted(
                        collections.Counter(w for w, _ in outcomes).values(), reverse=True)
                    result["load_average_1min_at_start"] = round(load, 2)
                    runs.append(result)
                    print(json.dumps(result), flush=True)
        finally:
            if runtime is not None:
                await runtime.stop()
            for worker in workers:
                worker.stop()
            client.close()
            broker.stop()
            await emulator.stop()
            await outbox.stop()
            await mongo.stop()
    report = {
        "benchmark": "photo -> result through the bot with analyses on `ecg-bot worker` processes (Celery, Redis)",
        "command": "python benchmarks/bench_workers.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "one_user_alone_s": alone,
        "runs": runs,
        "speedup_2_vs_1": {},
    }
    for limits in args.telegram_limits:
        one = next((r for r in runs if r["workers"] == 1 and r["telegram_limits"] == limits), None)
        two = next((r for r in runs if r["workers"] == 2 and r["telegram_limits"] == limits), None)
        if one and two:
            report["speedup_2_vs_1"][limits] = {
                "end_to_end": round(two["analyses_per_second"] / one["analyses_per_second"], 2),
                "workers_own_rate": round(two["worker_analyses_per_second"] / one["worker_analyses_per_second"], 2)
                if one["worker_analyses_per_second"] and two["worker_analyses_per_second"] else None,
            }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker process counts, ascending")
    parser.add_argument("--users", type=int, default=20, help="users sending a photo at once")
    parser.add_argument("--images", default=str(DEFAULT_IMAGES))
    parser.add_argument("--telegram-limits", choices=sorted(LIMITS), nargs="+", default=["production", "relaxed"],
                        help="the bot keeps Telegram's sending limits (production: 30 calls/s, 1/s a chat) or not "
                             "(relaxed: what the workers alone allow); each is measured")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    for limits, speedup in report["speedup_2_vs_1"].items():
        print(f"2 workers vs 1 ({limits} Telegram limits): {speedup['end_to_end']}x end to end, "
              f"{speedup['workers_own_rate']}x the workers' own rate")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
