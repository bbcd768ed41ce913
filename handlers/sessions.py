"""Session checks for protected commands, and the job-queue side of 24-hour session expiry."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, ConversationHandler

from accounts.models import Session
from bot.services import get_services
from handlers import texts

log = logging.getLogger(__name__)

EXPIRY_JOB_PREFIX = "session-expiry:"


def expiry_job_name(session_id: str) -> str:
    return f"{EXPIRY_JOB_PREFIX}{session_id}"


def schedule_expiry(application: Application, session: Session) -> None:
    """Run the expiry job at the session's expiry time (replacing any earlier job for it)."""
    cancel_expiry(application, [session])
    application.job_queue.run_once(
        expire_sessions_job,
        when=session.expires_at,
        name=expiry_job_name(session.id),
        chat_id=session.chat_id,
        user_id=session.telegram_id,
        data=session.id,
    )


def cancel_expiry(application: Application, sessions: Iterable[Session]) -> None:
    for session in sessions:
        for job in application.job_queue.get_jobs_by_name(expiry_job_name(session.id)):
            job.schedule_removal()


async def notify(application: Application, sessions: Iterable[Session], text: str) -> None:
    """Tell each session's chat that it ended, and record that it was told (so a restart does not
    tell again). A chat that blocked the bot must not stop the others."""
    accounts = application.bot_data["services"].accounts
    for session in sessions:
        try:
            await application.bot.send_message(session.chat_id, text)
        except TelegramError as exc:
            log.warning("could not notify a chat about its session end: %s", exc)
            continue
        await accounts.mark_notified(session.id)


async def expire_due_sessions(application: Application) -> list[Session]:
    """End every session past its 24 hours, tell its user, and drop its pending job."""
    ended = await application.bot_data["services"].accounts.expire_due_sessions()
    cancel_expiry(application, ended)
    await notify(application, ended, texts.SESSION_EXPIRED)
    return ended


async def expire_sessions_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await expire_due_sessions(context.application)


async def restore_sessions(application: Application) -> None:
    """At start-up: end sessions that expired while the bot was down, tell every user whose session
    ended unannounced (expired, or a reset whose message never went out), then reschedule the expiry
    of every session still open."""
    accounts = application.bot_data["services"].accounts
    await accounts.expire_due_sessions()
    for session in await accounts.unnotified_ended_sessions():
        text = texts.SESSION_EXPIRED if session.end_reason == "expired" else texts.SESSION_ENDED_BY_RESET
        await notify(application, [session], text)
    for session in await accounts.open_sessions():
        schedule_expiry(application, session)


async def current_session(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Session | None:
    """The user's valid session, or None after telling the user why.

    A session found past its expiry is ended on the spot (the user gets the expiry notice instead
    of waiting for the job to fire); with no session at all the answer is "Please /login first".
    """
    services = get_services(context)
    user_id = update.effective_user.id
    session = await services.accounts.current_session(user_id)
    if session is not None:
        return session
    ended = await expire_due_sessions(context.application)
    if not any(s.telegram_id == user_id for s in ended):
        await update.effective_chat.send_message(texts.PLEASE_LOGIN)
    return None


Handler = Callable[..., Awaitable[Any]]


def require_login(callback: Handler) -> Handler:
    """Run `callback(update, context, session, *args)` only with a valid session; otherwise answer
    "Please /login first" and end any conversation the update belongs to."""

    @functools.wraps(callback)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE, *args: Any) -> Any:
        session = await current_session(update, context)
        if session is None:
            if update.callback_query is not None:
                await update.callback_query.answer()
            return ConversationHandler.END
        return await callback(update, context, session, *args)

    return wrapper
