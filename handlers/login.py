"""/login (email → password), /logout and /me."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler

from accounts import validation
from accounts.errors import AccountLocked, NotActivated, RateLimited, UnknownEmail, WrongPassword
from accounts.models import Session
from handlers import learning, texts
from handlers.access import peek_session, require_login
from handlers.context import AppContext
from handlers.jobs import cancel_expiry, schedule_expiry
from handlers.steps import ANSWER, ask_again, conversation, delete_secret, end, reply, typed_text, validated_text

LOGIN_EMAIL, LOGIN_PASSWORD = range(2)
DRAFT = "login_email"  # user_data: the email typed, until the password step ends


def _utc(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


async def start(update: Update, context: AppContext) -> int:
    session = await peek_session(update, context)
    if session is not None:
        await reply(update, texts.ALREADY_LOGGED_IN.format(username=html.escape(session.username)))
        return ConversationHandler.END
    await reply(update, texts.ASK_LOGIN_EMAIL)
    return LOGIN_EMAIL


async def receive_email(update: Update, context: AppContext) -> int:
    email = await validated_text(update, validation.validate_email, texts.ASK_LOGIN_EMAIL)
    if email is None:
        return LOGIN_EMAIL
    context.user_data[DRAFT] = email
    await reply(update, texts.ASK_LOGIN_PASSWORD)
    return LOGIN_PASSWORD


async def receive_password(update: Update, context: AppContext) -> int:
    password = typed_text(update)
    await delete_secret(update.effective_message)
    if not password:
        await ask_again(update, "password_required", texts.ASK_LOGIN_PASSWORD)
        return LOGIN_PASSWORD
    try:
        session = await context.services.accounts.login(
            context.user_data.get(DRAFT, ""),
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
        return await end(update, context, DRAFT, f"{texts.LOGIN_NOT_ACTIVATED}\n{texts.LOGIN_NOT_ACTIVATED_HINT}")
    except AccountLocked as error:
        return await end(update, context, DRAFT, texts.LOGIN_LOCKED.format(until=_utc(error.until)))
    except RateLimited as error:
        return await end(update, context, DRAFT, texts.SLOW_DOWN_ACCOUNT.format(until=_utc(error.retry_at)))
    schedule_expiry(context.application, session)
    await end(
        update, context, DRAFT,
        texts.LOGGED_IN.format(
            username=html.escape(session.username),
            role=texts.ROLE_NAMES[session.role.value],
            until=_utc(session.expires_at),
        ),
    )
    await learning.open_pending_lesson(update, context, session)  # a lesson link opened while logged out
    return ConversationHandler.END


@require_login
async def logout(update: Update, context: AppContext, session: Session) -> None:
    ended = await context.services.accounts.logout(update.effective_user.id)
    cancel_expiry(context.application, [ended or session])
    await reply(update, texts.LOGGED_OUT)


@require_login
async def whoami(update: Update, context: AppContext, session: Session) -> None:
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
    return conversation(
        "login", "login", start,
        {
            LOGIN_EMAIL: [MessageHandler(ANSWER, receive_email)],
            LOGIN_PASSWORD: [MessageHandler(ANSWER, receive_password)],
        },
        DRAFT,
    )
