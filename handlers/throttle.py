"""The per-Telegram-user message limit: a token bucket in MongoDB (`storage.limits`), so it holds across
restarts and replicas. Runs before every other handler (group -1, `handlers.routes`); a message over the
limit stops there, and the sender is told to slow down once per refusal streak (not once per message,
which would make a flood flood the chat back)."""

from __future__ import annotations

import logging
import math

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers import texts
from handlers.context import AppContext
from handlers.limits import MESSAGE_BURST, MESSAGES_PER_MINUTE
from storage.limits import Rate

log = logging.getLogger(__name__)

MESSAGE_RATE = Rate(capacity=MESSAGE_BURST, per_second=MESSAGES_PER_MINUTE / 60)


def bucket_key(telegram_id: int) -> str:
    return f"msg:tg:{telegram_id}"


async def limit_messages(update: Update, context: AppContext) -> None:
    """Let a user's new message through, or stop it (ApplicationHandlerStop) when they send too fast."""
    if update.message is None or update.effective_user is None:
        return  # buttons, edits and the like are not counted
    services = context.services
    decision = await services.rate_limits.take(bucket_key(update.effective_user.id), services.message_rate,
                                               services.rate_clock.now())
    if decision.allowed:
        await services.blocked_chats.unmark(update.effective_chat.id)  # writing again: not blocked any more
        return
    if decision.first_denial:
        seconds = max(1, math.ceil(decision.retry_after.total_seconds()))
        await update.effective_chat.send_message(texts.SLOW_DOWN.format(seconds=seconds))
    raise ApplicationHandlerStop
