"""Everything on PTB's job queue (APScheduler): the 24-hour session expiry and the daily practice
reminders, and `restore_jobs`, which start-up (or a standby that becomes the leader) calls once: jobs live in
memory only, the database is what they are restored from.

Sent at most once: a "session ended" notice and each day's reminder are *claimed* in the database by one
conditional update before they are sent (`Sessions.claim_notice`, `ReminderStore.claim`), so two processes
(a leader and the one taking over from it), a job and a restart's announcement never both send. The price,
chosen deliberately: a process killed between the claim and Telegram's answer loses that one message (a
notice the user also meets at their next command, a practice question the next day brings again), where
marking after sending would send it twice whenever a process died between the send and the mark. A
reminder whose time passed while no process led (a takeover takes up to 1.2 × BOT_LEASE_TTL, a restart
longer) is sent late by the next leader when less than `REMINDER_CATCH_UP` has passed (`missed_reminders`,
`handlers.restart`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
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
REMINDER_CATCH_UP = timedelta(hours=1)  # a reminder missed while no process led is sent up to this late


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
    """Tell each session's chat that it ended, once: the notice is claimed in the database before it is
    sent (so a restart or a new leader does not tell again). A chat that blocked the bot must not stop the
    others: it is marked once and counted as told (`storage.chats`), not retried at every restart."""
    services = services_of(application)
    accounts = services.accounts
    for session in sessions:
        if not await accounts.claim_notice(session.id):  # told already, by this process or another
            continue
        try:
            if not services.blocked_chats.is_blocked(session.chat_id):
                await application.bot.send_message(session.chat_id, text)
        except Forbidden:
            await services.blocked_chats.mark(session.chat_id, services.clock.now())
        except TelegramError as exc:
            log.warning("could not notify a chat about its session end: %s", exc)
            await accounts.release_notice(session.id)  # the next start tries again


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
    reminder = await context.services.reminders.get(context.job.data)
    if reminder is None:  # switched off meanwhile
        return
    await send_reminder(context.application, reminder)


async def send_reminder(application: Application, reminder: Reminder) -> bool:
    """Send the reminder's latest occurrence if no one has: claimed first (at most once), then sent."""
    services = services_of(application)
    due = reminder.latest_due(services.clock.now())
    if not await services.reminders.claim(reminder.user_id, Reminder.occurrence_key(due)):
        log.info("the reminder of %s due %s was sent already", reminder.user_id, due.isoformat())
        return False
    try:
        await application.bot.send_message(reminder.chat_id, texts.REMIND_INTRO)
        await send_question(application.bot, services, reminder.chat_id, reminder.user_id)
    except TelegramError as exc:  # blocked the bot, say: the next days may work again
        log.warning("daily practice question not delivered: %s", exc)
    return True


def is_missed(reminder: Reminder, now: datetime) -> bool:
    """Its latest time passed less than REMINDER_CATCH_UP ago, after the user chose it, and it was not sent."""
    due = reminder.latest_due(now)
    return (now - due <= REMINDER_CATCH_UP and due.timestamp() * 1000 >= reminder.set_at
            and reminder.last_sent_day != Reminder.occurrence_key(due))


async def missed_reminders(application: Application) -> list[Reminder]:
    """Reminders whose time passed while no process was leading (a takeover, a restart): `handlers.restart`
    sends them, paced, after polling has started."""
    services = services_of(application)
    now = services.clock.now()
    return [r for r in await services.reminders.all() if is_missed(r, now)]


async def catch_up_reminder(application: Application, user_id: str) -> bool:
    """Send a missed reminder if it is still set and still missed (read again: time may have passed)."""
    services = services_of(application)
    reminder = await services.reminders.get(user_id)
    if reminder is None or not is_missed(reminder, services.clock.now()):
        return False
    return await send_reminder(application, reminder)
