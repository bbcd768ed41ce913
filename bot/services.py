"""The live service objects handlers use, stored in `application.bot_data` (never persisted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from accounts.clock import Clock
    from accounts.service import AccountService
    from bot.config import Settings

SERVICES_KEY = "services"


@dataclass
class Services:
    settings: "Settings"
    accounts: "AccountService"
    clock: "Clock"
    db: Any
    analysis: Any = None  # inference.queue.AnalysisQueue: the bounded pool the model runs in
    history: Any = None  # inference.history.AnalysisHistory
    digitized: Any = None  # inference.digitized_store.DigitizedStore: signals kept 24 h for the export button
    analyse: "Callable[[bytes], Any] | None" = None  # image -> inference.analysis.Analysis
    practice: Any = None  # content.store.PracticeStore
    cases: Any = None  # content.store.CaseStore
    reminders: Any = None  # content.store.ReminderStore
    lesson_for_label: dict[str, str] = field(default_factory=dict)  # diagnosis label -> lesson slug
    figure_file_ids: dict[str, str] = field(default_factory=dict)  # figure name -> Telegram file_id once sent


def get_services(context: Any) -> Services:
    """The `Services` of the application a handler or job runs in."""
    return context.application.bot_data[SERVICES_KEY]
