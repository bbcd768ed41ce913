"""The Celery application shared by the bot (which submits) and `ecg-bot worker` (which runs).

Redis is both the broker and the result backend (ANALYSIS_BROKER_URL, e.g. redis://host:6379/0).
Messages are JSON and small: the picture itself travels in a Redis key of its own (`workers.tasks`),
the message carries only the analysis id. Delivery is at least once:

- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only when the task has
  returned; a worker child killed mid-analysis puts it back at once, a whole worker (machine) killed leaves
  it unacknowledged in Redis, and the broker hands it to another worker after `visibility_timeout`.
- `worker_prefetch_multiplier = 1`: a worker holds no more messages than it runs, so the visibility
  timeout only has to cover one analysis, and a busy worker does not sit on queued ones.
- the task itself is idempotent by analysis id and runs at most twice (`workers.tasks`).
"""

from __future__ import annotations

import os

from celery import Celery

QUEUE = "ecg-analyses"
TASK_NAME = "ecg.analyse"
DEFAULT_VISIBILITY_TIMEOUT = 120  # seconds: far above one analysis (about 1 s of CPU, 10 s on a loaded worker)


def visibility_timeout(env: dict[str, str] | None = None) -> int:
    """ANALYSIS_VISIBILITY_TIMEOUT (seconds): how long a message taken by a worker that died stays hidden
    before another worker gets it."""
    value = (env if env is not None else os.environ).get("ANALYSIS_VISIBILITY_TIMEOUT", "").strip()
    return int(value) if value else DEFAULT_VISIBILITY_TIMEOUT


def make_app(broker_url: str, *, visibility: int | None = None) -> Celery:
    visibility = visibility if visibility is not None else visibility_timeout()
    app = Celery("ecg_analyzer", broker=broker_url, backend=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        task_routes={TASK_NAME: {"queue": QUEUE}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        result_expires=24 * 3600,
        result_extended=False,
        broker_connection_retry_on_startup=True,
        task_publish_retry=False,  # the bot decides how long to wait for a broker that is down
        broker_transport_options={
            "visibility_timeout": visibility,
            # look for messages of dead workers often (kombu's default: every 10th check, every 10 s)
            "unacked_restore_interval": max(1, visibility // 4),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
        },
        result_backend_transport_options={"socket_connect_timeout": 3, "socket_timeout": 10},
        redis_socket_connect_timeout=3,
        redis_socket_timeout=10,
    )
    return app
