"""/forgot: email → 6-digit code from the email → new password → confirmation."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import CommandHandler, ContextTypes, ConversationHandler, MessageHandler, filters

from accounts import validation
from accounts.errors import ResetCodeExpired, ResetCodeInvalid
from bot.services import get_services
from handlers import texts
from handlers.chat import ANSWER, read_confirmation, read_new_password, reject_other_command, reply, typed_text
from handlers.sessions import cancel_expiry, notify

RESET_EMAIL, RESET_CODE, NEW_PASSWORD, NEW_CONFIRM = range(10, 14)
DRAFT = "password_reset"


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    context.user_data[DRAFT] = {}
    await reply(update, texts.ASK_RESET_EMAIL)
    return RESET_EMAIL


async def receive_email(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    try:
        email = validation.validate_email(typed_text(update))
    except validation.ValidationError as error:
        await reply(update, f"{texts.VALIDATION[error.code]}\n\n{texts.ASK_RESET_EMAIL}")
        return RESET_EMAIL
    await get_services(context).accounts.start_password_reset(email)
    context.user_data.setdefault(DRAFT, {})["email"] = email
    await reply(update, texts.RESET_CODE_SENT.format(email=html.escape(email)))
    return RESET_CODE


async def receive_code(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    draft = context.user_data.setdefault(DRAFT, {})
    code = typed_text(update).strip()
    try:
        await get_services(context).accounts.verify_reset_code(draft.get("email", ""), code)
    except ResetCodeInvalid as error:
        if error.attempts_left <= 0:  # the fifth wrong code voided it
            return await _end(update, context, texts.RESET_CODE_VOIDED)
        await reply(update, texts.RESET_CODE_INVALID.format(n=error.attempts_left))
        return RESET_CODE
    except ResetCodeExpired:
        return await _end(update, context, texts.RESET_CODE_EXPIRED)
    draft["code"] = code
    await reply(update, texts.ASK_NEW_PASSWORD)
    return NEW_PASSWORD


async def receive_new_password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    password_hash = await read_new_password(update, texts.ASK_NEW_PASSWORD)
    if password_hash is None:
        return NEW_PASSWORD
    context.user_data.setdefault(DRAFT, {})["password_hash"] = password_hash
    await reply(update, texts.ASK_NEW_CONFIRM)
    return NEW_CONFIRM


async def receive_new_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    draft = context.user_data.setdefault(DRAFT, {})
    if not await read_confirmation(update, draft.get("password_hash", ""), texts.ASK_NEW_CONFIRM):
        return NEW_CONFIRM
    try:
        ended = await get_services(context).accounts.reset_password(
            draft.get("email", ""), draft.get("code", ""), draft["password_hash"]
        )
    except (ResetCodeExpired, ResetCodeInvalid):
        return await _end(update, context, texts.RESET_CODE_EXPIRED)
    cancel_expiry(context.application, ended)
    here = update.effective_chat.id
    await notify(context.application, [s for s in ended if s.chat_id != here], texts.SESSION_ENDED_BY_RESET)
    for session in ended:
        if session.chat_id == here:  # this chat is told below
            await get_services(context).accounts.mark_notified(session.id)
    return await _end(update, context, texts.PASSWORD_CHANGED)


async def _end(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> int:
    context.user_data.pop(DRAFT, None)
    await reply(update, text)
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    return await _end(update, context, texts.CANCELLED)


def build() -> ConversationHandler:
    return ConversationHandler(
        entry_points=[CommandHandler("forgot", start)],
        states={
            RESET_EMAIL: [MessageHandler(ANSWER, receive_email)],
            RESET_CODE: [MessageHandler(ANSWER, receive_code)],
            NEW_PASSWORD: [MessageHandler(ANSWER, receive_new_password)],
            NEW_CONFIRM: [MessageHandler(ANSWER, receive_new_confirm)],
        },
        fallbacks=[CommandHandler("cancel", cancel), MessageHandler(filters.COMMAND, reject_other_command)],
        name="forgot",
        persistent=True,
    )
