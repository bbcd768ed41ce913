"""`ecg-bot worker`: a Celery worker that runs the analyses the bot submits (ANALYSIS_BROKER_URL).

Start any number of them, on any number of machines, all pointing at the same Redis. Each loads the models
once per process (right at start unless --no-warm) and takes one analysis at a time per process
(`--concurrency`, default 1: the reading is single-threaded, so run one process a core).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

log = logging.getLogger(__name__)

NO_BROKER = """\
ecg-bot worker needs ANALYSIS_BROKER_URL (the Redis the bot submits analyses to), e.g.
    export ANALYSIS_BROKER_URL=redis://redis.internal:6379/0
"""


def _warm() -> None:
    """Load the models now (in the process that will run the analyses), not at the first user's photo."""
    import gc

    from inference.classifier import get_classifier
    from inference.measure_model import get_measure_model

    try:
        get_classifier()
        get_measure_model()
        gc.freeze()  # TensorFlow's millions of objects out of the collector's way (see bot/app.py)
        log.info("models loaded in worker process %d", os.getpid())
    except Exception:
        log.exception("the models could not be loaded; analyses will report it")


def build_worker_app(broker_url: str, *, warm: bool, pool: str):
    import redis
    from celery import signals

    from workers.celery_app import make_app
    from workers.tasks import register

    app = make_app(broker_url)
    app.conf.worker_proc_alive_timeout = 300  # a child loading TensorFlow on a busy machine is alive
    register(app, lambda: redis.Redis.from_url(broker_url, socket_connect_timeout=3, socket_timeout=30))
    if warm:
        if pool == "prefork":
            signals.worker_process_init.connect(lambda **_: _warm(), weak=False)
        else:
            signals.worker_ready.connect(lambda **_: _warm(), weak=False)
    return app


def worker_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecg-bot worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=1, help="analyses at once in this worker (processes)")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    parser.add_argument("--hostname", default=None, help="worker name (default: analysis@<host>.<pid>)")
    parser.add_argument("--no-warm", action="store_true", help="load the models at the first analysis")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    from dotenv import load_dotenv

    load_dotenv(override=False)
    broker_url = os.environ.get("ANALYSIS_BROKER_URL", "").strip()
    if not broker_url:
        print(NO_BROKER, file=sys.stderr)
        return 2
    from workers.celery_app import QUEUE

    app = build_worker_app(broker_url, warm=not args.no_warm, pool=args.pool)
    hostname = args.hostname or f"analysis@%h.{os.getpid()}"
    app.worker_main(["worker", f"--loglevel={args.loglevel}", "-Q", QUEUE, f"--concurrency={args.concurrency}",
                     f"--pool={args.pool}", f"--hostname={hostname}", "--without-gossip", "--without-mingle",
                     "--without-heartbeat"])
    return 0
