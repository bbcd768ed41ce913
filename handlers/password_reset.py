"""/forgot: email → the emailed code → new password → confirmation.

Every step answers alike for an address with and without an account, in the same time: the answer to the
email is sent before the request is made (and its mail queued), and the draft keeps only the request's id,
never the code (`accounts.password_reset`)."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler

from accounts import validation
from accounts.errors import RateLimited, ResetCodeExpired, ResetCodeInvalid
from handlers import texts
from handlers.context import AppContext
from handlers.jobs import cancel_expiry, notify
from handlers.steps import ANSWER, conversation, end, password_steps, reply, typed_text, validated_text

RESET_EMAIL, RESET_CODE, NEW_PASSWORD, NEW_CONFIRM = range(10, 14)
DRAFT = "password_reset"


async def start(update: Update, context: AppContext) -> int:
    context.user_data[DRAFT] = {}
    await reply(update, texts.ASK_RESET_EMAIL)
    return RESET_EMAIL


async def receive_email(update: Update, context: AppContext) -> int:
    email = await validated_text(update, validation.validate_email, texts.ASK_RESET_EMAIL)
    if email is None:
        return RESET_EMAIL
    accounts = context.services.accounts
    telegram_id = update.effective_user.id
    try:
        await accounts.take_mail_request(telegram_id)
    except RateLimited as error:
        return await end(update, context, DRAFT, texts.SLOW_DOWN_ACCOUNT.format(until=_hhmm(error.retry_at)))
    await reply(update, texts.RESET_CODE_SENT.format(email=html.escape(email)))
    context.user_data.setdefault(DRAFT, {})["request"] = await accounts.start_password_reset(
        email, telegram_id=telegram_id
    )
    return RESET_CODE


def _hhmm(moment) -> str:
    return moment.strftime("%H:%M")


async def receive_code(update: Update, context: AppContext) -> int:
    draft = context.user_data.setdefault(DRAFT, {})
    code = typed_text(update).strip()
    try:
        await context.services.accounts.verify_reset_code(draft.get("request", ""), code)
    except RateLimited as error:
        await reply(update, texts.SLOW_DOWN_ACCOUNT.format(until=_hhmm(error.retry_at)))
        return RESET_CODE
    except ResetCodeInvalid as error:
        if error.attempts_left <= 0:  # the last allowed wrong code voided it
            return await end(update, context, DRAFT, texts.RESET_CODE_VOIDED)
        await reply(update, texts.RESET_CODE_INVALID.format(n=error.attempts_left))
        return RESET_CODE
    except ResetCodeExpired:
        return await end(update, context, DRAFT, texts.RESET_CODE_EXPIRED)
    await reply(update, texts.ASK_NEW_PASSWORD)
    return NEW_PASSWORD


async def change_password(update: Update, context: AppContext) -> int:
    """The new password is confirmed: store it, end every session of the account and tell their chats."""
    draft = context.user_data.setdefault(DRAFT, {})
    accounts = context.services.accounts
    try:
        ended = await accounts.reset_password(draft.get("request", ""), draft["password_hash"])
    except (ResetCodeExpired, ResetCodeInvalid):
        return await end(update, context, DRAFT, texts.RESET_CODE_EXPIRED)
    cancel_expiry(context.application, ended)
    here = update.effective_chat.id
    await notify(context.application, [s for s in ended if s.chat_id != here], texts.SESSION_ENDED_BY_RESET)
    for session in ended:
        if session.chat_id == here:  # this chat is told below
            await accounts.mark_notified(session.id)
    return await end(update, context, DRAFT, texts.PASSWORD_CHANGED)


def build() -> ConversationHandler:
    return conversation(
        "forgot", "forgot", start,
        {
            RESET_EMAIL: [MessageHandler(ANSWER, receive_email)],
            RESET_CODE: [MessageHandler(ANSWER, receive_code)],
            **password_steps(DRAFT, (NEW_PASSWORD, texts.ASK_NEW_PASSWORD), (NEW_CONFIRM, texts.ASK_NEW_CONFIRM),
                             change_password),
        },
        DRAFT,
    )
