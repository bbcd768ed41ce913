"""An analysis run by the workers (`ecg-bot worker`, ANALYSIS_BROKER_URL set) instead of the bot's own
queue: the same progress display (the preview's caption), edited with the place in the broker's queue and
the worker's stages, and the same answers when it cannot be done.

`handlers.diagnosis` calls `analyse_remotely` when `services.remote_analyses` is set; the client
(`workers.client.RemoteAnalyses`) is built by `bot/app.py`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from handlers import texts

if TYPE_CHECKING:
    from inference.analysis import Analysis

log = logging.getLogger(__name__)

_DONE = "✅ Downloaded\n✅ Checked\n"
PROGRESS_STARTED = _DONE + "⏳ An analyser took your ECG…"
PROGRESS_DIGITIZING = _DONE + "⏳ Reading the ECG off the picture (digitizing)…"
PROGRESS_CLASSIFYING = _DONE + "✅ Digitized\n⏳ Diagnosing (classifying)…"
PROGRESS_BROKER_DOWN = (_DONE + "⏳ The analysers can't be reached right now. Your ECG waits and will be "
                        "analysed as soon as they are back — no need to send it again.")
ANALYSERS_DOWN = ("⚠️ The analysers stayed unreachable, so your ECG could not be analysed. Nothing was saved — "
                  "please send it again later.")
STAGE_TEXTS = {"started": PROGRESS_STARTED, "digitizing": PROGRESS_DIGITIZING,
               "classifying": PROGRESS_CLASSIFYING, "broker_down": PROGRESS_BROKER_DOWN}


class ProgressMessage(Protocol):
    def show(self, text: str) -> None: ...

    async def final(self, text: str) -> None: ...


async def analyse_remotely(remote: Any, analysis_id: str, data: bytes, progress: ProgressMessage) -> Analysis | None:
    """The `inference.analysis.Analysis` from a worker, or None after telling the user why not. No chat
    action: the progress (the preview's caption) shows the stage, and a chat action would take one of the
    chat's calls (about one a second) before the result."""
    from workers.client import BrokerUnavailable
    from workers.payload import AnalysisFailed

    async def on_position(position: int) -> None:
        progress.show(texts.PROGRESS_QUEUED.format(position=position))

    async def on_stage(stage: str) -> None:
        progress.show(STAGE_TEXTS.get(stage, texts.PROGRESS_ANALYSING))

    try:
        return await remote.analyse(analysis_id, data, on_position=on_position, on_stage=on_stage)
    except BrokerUnavailable:
        await progress.final(ANALYSERS_DOWN)
    except AnalysisFailed as exc:
        log.error("analysis %s failed on the workers: %s", analysis_id, exc.reason)
        await progress.final(texts.MODEL_UNAVAILABLE if exc.reason == "model_missing" else texts.ANALYSIS_FAILED)
    return None
