"""/login (email → password), /logout and /me."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import CommandHandler, ContextTypes, ConversationHandler, MessageHandler, filters

from accounts import validation
from accounts.errors import AccountLocked, NotActivated, UnknownEmail, WrongPassword
from accounts.models import Session
from bot.services import get_services
from handlers import learning, texts
from handlers.chat import ANSWER, delete_secret, reject_other_command, reply, typed_text
from handlers.sessions import cancel_expiry, require_login, schedule_expiry

LOGIN_EMAIL, LOGIN_PASSWORD = range(2)
EMAIL_KEY = "login_email"


def _utc(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    session = await get_services(context).accounts.current_session(update.effective_user.id)
    if session is not None:
        await reply(update, texts.ALREADY_LOGGED_IN.format(username=html.escape(session.username)))
        return ConversationHandler.END
    await reply(update, texts.ASK_LOGIN_EMAIL)
    return LOGIN_EMAIL


async def receive_email(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    try:
        email = validation.validate_email(typed_text(update))
    except validation.ValidationError as error:
        await reply(update, f"{texts.VALIDATION[error.code]}\n\n{texts.ASK_LOGIN_EMAIL}")
        return LOGIN_EMAIL
    context.user_data[EMAIL_KEY] = email
    await reply(update, texts.ASK_LOGIN_PASSWORD)
    return LOGIN_PASSWORD


async def receive_password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    password = typed_text(update)
    await delete_secret(update.effective_message)
    if not password:
        await reply(update, f"{texts.VALIDATION['password_required']}\n\n{texts.ASK_LOGIN_PASSWORD}")
        return LOGIN_PASSWORD
    accounts = get_services(context).accounts
    try:
        session = await accounts.login(
            context.user_data.get(EMAIL_KEY, ""),
            password,
            telegram_id=update.effective_user.id,
            chat_id=update.effective_chat.id,
        )
    except UnknownEmail:
        await reply(update, f"{texts.LOGIN_UNKNOWN_EMAIL}\n\n{texts.ASK_LOGIN_EMAIL}")
        return LOGIN_EMAIL
    except WrongPassword as error:
        await reply(update, f"{texts.LOGIN_WRONG_PASSWORD}\n{texts.LOGIN_ATTEMPTS_LEFT.format(n=error.attempts_left)}")
        return LOGIN_PASSWORD
    except NotActivated:
        await reply(update, f"{texts.LOGIN_NOT_ACTIVATED}\n{texts.LOGIN_NOT_ACTIVATED_HINT}")
        return _finish(context)
    except AccountLocked as error:
        await reply(update, texts.LOGIN_LOCKED.format(until=_utc(error.until)))
        return _finish(context)
    schedule_expiry(context.application, session)
    await reply(
        update,
        texts.LOGGED_IN.format(
            username=html.escape(session.username),
            role=texts.ROLE_NAMES[session.role.value],
            until=_utc(session.expires_at),
        ),
    )
    await learning.open_pending_lesson(update, context, session)  # a lesson link opened while logged out
    return _finish(context)


def _finish(context: ContextTypes.DEFAULT_TYPE) -> int:
    context.user_data.pop(EMAIL_KEY, None)
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await reply(update, texts.CANCELLED)
    return _finish(context)


@require_login
async def logout(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session) -> None:
    ended = await get_services(context).accounts.logout(update.effective_user.id)
    cancel_expiry(context.application, [ended or session])
    await reply(update, texts.LOGGED_OUT)


@require_login
async def whoami(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session) -> None:
    await reply(
        update,
        texts.WHOAMI.format(
            username=html.escape(session.username),
            role=texts.ROLE_NAMES[session.role.value],
            instructor=texts.WHOAMI_INSTRUCTOR if session.is_instructor else "",
            until=_utc(session.expires_at),
        ),
    )


def build() -> ConversationHandler:
    return ConversationHandler(
        entry_points=[CommandHandler("login", start)],
        states={
            LOGIN_EMAIL: [MessageHandler(ANSWER, receive_email)],
            LOGIN_PASSWORD: [MessageHandler(ANSWER, receive_password)],
        },
        fallbacks=[CommandHandler("cancel", cancel), MessageHandler(filters.COMMAND, reject_other_command)],
        name="login",
        persistent=True,
    )
