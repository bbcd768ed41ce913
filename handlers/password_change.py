"""/password, logged in: the current password → the new one → its confirmation. The other sessions of the
account end (their chats are told) and the user is mailed about the change."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler

from accounts.errors import AccountLocked, RateLimited, WrongPassword
from accounts.models import Session
from handlers import texts
from handlers.access import peek_session, require_login
from handlers.context import AppContext
from handlers.jobs import cancel_expiry, notify
from handlers.steps import ANSWER, ask_again, conversation, delete_secret, end, password_steps, reply, typed_text

CURRENT, NEW_PASSWORD, NEW_CONFIRM = range(20, 23)
DRAFT = "password_change"


def _utc(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


@require_login
async def start(update: Update, context: AppContext, session: Session) -> int:
    context.user_data[DRAFT] = {}
    await reply(update, texts.ASK_CURRENT_PASSWORD)
    return CURRENT


async def _session_or_end(update: Update, context: AppContext) -> Session | None:
    session = await peek_session(update, context)
    if session is None:
        await end(update, context, DRAFT, texts.PLEASE_LOGIN)
    return session


async def receive_current(update: Update, context: AppContext) -> int:
    password = typed_text(update)
    await delete_secret(update.effective_message)
    session = await _session_or_end(update, context)
    if session is None:
        return ConversationHandler.END
    if not password:
        await ask_again(update, "password_required", texts.ASK_CURRENT_PASSWORD)
        return CURRENT
    try:
        await context.services.accounts.check_password(session, password)
    except WrongPassword as error:
        await reply(update, f"{texts.LOGIN_WRONG_PASSWORD}\n{texts.LOGIN_ATTEMPTS_LEFT.format(n=error.attempts_left)}")
        return CURRENT
    except AccountLocked as error:
        return await end(update, context, DRAFT, texts.LOGIN_LOCKED.format(until=_utc(error.until)))
    except RateLimited as error:
        return await end(update, context, DRAFT, texts.SLOW_DOWN_ACCOUNT.format(until=error.retry_at.strftime("%H:%M")))
    await reply(update, texts.ASK_CHANGED_PASSWORD)
    return NEW_PASSWORD


async def change(update: Update, context: AppContext) -> int:
    session = await _session_or_end(update, context)
    if session is None:
        return ConversationHandler.END
    draft = context.user_data.get(DRAFT, {})
    if "password_hash" not in draft:
        return await end(update, context, DRAFT, texts.CONVERSATION_TIMED_OUT)
    ended = await context.services.accounts.change_password(session, draft["password_hash"])
    cancel_expiry(context.application, ended)
    await notify(context.application, ended, texts.SESSION_ENDED_BY_RESET)
    return await end(update, context, DRAFT, texts.PASSWORD_CHANGED_HERE)


def build() -> ConversationHandler:
    return conversation(
        "password", "password", start,
        {
            CURRENT: [MessageHandler(ANSWER, receive_current)],
            **password_steps(DRAFT, (NEW_PASSWORD, texts.ASK_CHANGED_PASSWORD), (NEW_CONFIRM, texts.ASK_NEW_CONFIRM),
                             change),
        },
        DRAFT,
    )
