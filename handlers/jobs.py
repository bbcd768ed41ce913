"""Everything on PTB's job queue (APScheduler): the 24-hour session expiry and the daily practice
reminders, and `restore_jobs`, which start-up calls once (jobs live in memory only)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import time as dtime

from telegram.error import Forbidden, TelegramError
from telegram.ext import Application

from accounts.models import Session
from content.reminders import Reminder
from handlers import texts
from handlers.context import AppContext, services_of
from handlers.questions import send_question

log = logging.getLogger(__name__)

EXPIRY_JOB_PREFIX = "session-expiry:"
REMINDER_JOB_PREFIX = "reminder:"


async def restore_jobs(application: Application) -> None:
    """At start-up: end sessions that expired while the bot was down, reschedule the expiry of every
    session still open, and schedule every stored reminder again. (Telling the users whose session ended
    unannounced is `handlers.restart.announce`, paced, after polling has started.)"""
    services = services_of(application)
    accounts = services.accounts
    await accounts.expire_due_sessions()
    for session in await accounts.open_sessions():
        schedule_expiry(application, session)
    for reminder in await services.reminders.all():
        schedule_reminder(application, reminder)


# --- sessions -------------------------------------------------------------------------------------
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
    tell again). A chat that blocked the bot must not stop the others: it is marked once and counted as
    told (`storage.chats`), not retried at every restart."""
    services = services_of(application)
    accounts = services.accounts
    for session in sessions:
        try:
            if not services.blocked_chats.is_blocked(session.chat_id):
                await application.bot.send_message(session.chat_id, text)
        except Forbidden:
            await services.blocked_chats.mark(session.chat_id, services.clock.now())
        except TelegramError as exc:
            log.warning("could not notify a chat about its session end: %s", exc)
            continue
        await accounts.mark_notified(session.id)


async def expire_due_sessions(application: Application) -> list[Session]:
    """End every session past its 24 hours, tell its user, and drop its pending job."""
    ended = await services_of(application).accounts.expire_due_sessions()
    cancel_expiry(application, ended)
    await notify(application, ended, texts.SESSION_EXPIRED)
    return ended


async def expire_sessions_job(context: AppContext) -> None:
    await expire_due_sessions(context.application)


# --- daily practice reminders ---------------------------------------------------------------------
def reminder_job_name(user_id: str) -> str:
    return f"{REMINDER_JOB_PREFIX}{user_id}"


def schedule_reminder(application: Application, reminder: Reminder) -> None:
    cancel_reminder(application, reminder.user_id)
    application.job_queue.run_daily(
        reminder_job,
        time=dtime(reminder.hour, reminder.minute, tzinfo=reminder.zone),
        name=reminder_job_name(reminder.user_id),
        chat_id=reminder.chat_id,
        user_id=reminder.telegram_id,
        data=reminder.user_id,
    )


def cancel_reminder(application: Application, user_id: str) -> None:
    for job in application.job_queue.get_jobs_by_name(reminder_job_name(user_id)):
        job.schedule_removal()


async def reminder_job(context: AppContext) -> None:
    services = context.services
    user_id = context.job.data
    if await services.reminders.get(user_id) is None:  # switched off meanwhile
        return
    try:
        await context.bot.send_message(context.job.chat_id, texts.REMIND_INTRO)
        await send_question(context.bot, services, context.job.chat_id, user_id)
    except TelegramError as exc:  # blocked the bot, say: the next days may work again
        log.warning("daily practice question not delivered: %s", exc)
