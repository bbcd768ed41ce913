"""What travels through Redis for one analysis, as JSON (no pickle: nothing in Redis can run code in
the bot or a worker).

- the picture: its own key `ecg:image:<analysis id>` (bytes, kept an hour), so that queue messages stay
  small and the bot can read the queue to tell a user her place in it;
- the outcome: a JSON document, stored once per analysis id (`ecg:result:<id>`, SET NX) and returned as the
  Celery task's result: {"status": "done", "result": classifier.Result as a dict, "heatmap": base64 PNG or
  null, "digitized": base64 npz (inference.export) or null, "attempt": n, "worker": name}, or
  {"status": "failed", "reason": "worker_lost" | "image_gone" | "model_missing" | "error"}.
"""

from __future__ import annotations

import base64
from typing import Any

IMAGE_KEY = "ecg:image:{}"
RESULT_KEY = "ecg:result:{}"
ATTEMPTS_KEY = "ecg:attempts:{}"
SUBMITTED_KEY = "ecg:submitted:{}"
IMAGE_TTL = 3600  # seconds a picture waits for a worker
RESULT_TTL = 24 * 3600
MAX_ATTEMPTS = 2  # the first run and one retry after a worker died


class AnalysisFailed(Exception):
    """The workers could not analyse the picture; `reason` says why (see the module docstring)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data is not None else None


def encode(analysis: Any, *, attempt: int, worker: str) -> dict:
    """inference.analysis.Analysis -> JSON-able dict."""
    from inference.export import to_npz_bytes

    digitized = to_npz_bytes(analysis.digitized) if analysis.digitized is not None else None
    return {"status": "done", "result": analysis.result.to_dict(), "heatmap": _b64(analysis.heatmap),
            "digitized": _b64(digitized), "attempt": attempt, "worker": worker}


def decode(payload: dict) -> Any:
    """The dict `encode` made -> inference.analysis.Analysis (result, heat map, digitized signals);
    AnalysisFailed for a failure."""
    from inference.analysis import Analysis
    from inference.classifier import Result
    from inference.export import from_npz_bytes

    if payload.get("status") != "done":
        raise AnalysisFailed(str(payload.get("reason") or "error"))
    fields = dict(payload["result"])
    fields["top_two"] = [tuple(pair) for pair in fields.get("top_two") or []]
    result = Result(**fields)
    heatmap = base64.b64decode(payload["heatmap"]) if payload.get("heatmap") else None
    digitized = from_npz_bytes(base64.b64decode(payload["digitized"])) if payload.get("digitized") else None
    return Analysis(result, heatmap, digitized)
