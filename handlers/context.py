"""The services the chat layer needs, and the PTB context type that hands them to every handler and job.

`bot/app.py` (the composition root) builds one `Services` and installs it on the application; a handler
reads `context.services` (its context is an `AppContext`: `ContextTypes(context=AppContext)`), so no
handler imports `bot`. The services live in `application.bot_data`, which is never persisted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telegram.ext import Application, CallbackContext, ExtBot

from accounts.clock import Clock
from accounts.service import AccountService
from inference.queue import AnalysisQueue
from storage.chats import BlockedChats
from storage.digitized import DigitizedStore
from storage.history import AnalysisHistory
from storage.inflight import InFlightAnalyses
from storage.limits import Rate, TokenBuckets
from storage.practice import CaseStore, PracticeStore, ReminderStore

if TYPE_CHECKING:
    from inference.analysis import Analysis
    from workers.client import RemoteAnalyses

_SERVICES = "services"  # the bot_data key; nothing else spells it


@dataclass
class Services:
    accounts: AccountService
    clock: Clock
    analysis_queue: AnalysisQueue  # the bounded pool the reading and the models run in
    analyse: Callable[[bytes], Analysis]  # image -> reading, diagnosis and heat map (in the pool's thread)
    history: AnalysisHistory
    digitized: DigitizedStore  # signals kept for the export button
    practice: PracticeStore
    cases: CaseStore
    reminders: ReminderStore
    lesson_for_label: dict[str, str]  # diagnosis label -> lesson slug ("Explain this diagnosis")
    rate_limits: TokenBuckets  # per-user limits (handlers.throttle), in MongoDB
    message_rate: Rate  # a Telegram user's messages (handlers.throttle.MESSAGE_RATE; tests may relax it)
    rate_clock: Clock  # real time for the rate limits, even where `clock` is a test's manual clock
    in_flight: InFlightAnalyses  # confirmed analyses not yet answered (told after a restart)
    blocked_chats: BlockedChats  # chats that blocked the bot: not notified again
    figure_file_ids: dict[str, str] = field(default_factory=dict)  # figure name -> Telegram file_id once sent
    remote_analyses: RemoteAnalyses | None = None  # the workers (ANALYSIS_BROKER_URL), else analysis_queue


def install_services(application: Application, services: Services) -> None:
    application.bot_data[_SERVICES] = services


def services_of(application: Application) -> Services:
    """For code that holds the application rather than a context (start-up)."""
    return application.bot_data[_SERVICES]


class AppContext(CallbackContext[ExtBot, dict, dict, dict]):
    """The context of every handler and job: PTB's, plus the application's typed `services`."""

    @property
    def services(self) -> Services:
        return services_of(self.application)
