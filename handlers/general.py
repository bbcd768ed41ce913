"""Commands that work anywhere — /start (with or without a deep-link payload), /help, /resend — and the
answers to everything no other handler takes: /cancel outside a conversation, unknown commands, other
messages, stale buttons, and errors."""

from __future__ import annotations

import html
import logging

from telegram import Update

from accounts import validation
from accounts.errors import MailThrottled, RateLimited, TokenInvalid
from content.lessons import slug_from_payload
from handlers import learning, texts
from handlers.context import AppContext
from handlers.steps import reply
from storage.mongo import StorageUnavailable

log = logging.getLogger(__name__)

TOKEN_MESSAGES = {"expired": texts.TOKEN_EXPIRED, "used": texts.TOKEN_USED, "unknown": texts.TOKEN_UNKNOWN}


async def start(update: Update, context: AppContext) -> None:
    payload = context.args[0] if context.args else ""
    if not payload:
        await reply(update, texts.WELCOME)
        return
    slug = slug_from_payload(payload)
    if slug is not None:  # a shared lesson link: t.me/<bot>?start=lesson-<slug>
        await learning.open_from_link(update, context, slug)
        return
    await activate(update, context, payload)


async def activate(update: Update, context: AppContext, token: str) -> None:
    """The emailed link `t.me/<bot>?start=<token>` arrives here as `/start <token>`."""
    try:
        user = await context.services.accounts.activate(token)
    except TokenInvalid as error:
        await reply(update, TOKEN_MESSAGES.get(error.reason, texts.TOKEN_UNKNOWN))
        return
    await reply(update, texts.ACTIVATED.format(username=html.escape(user.username)))


async def show_help(update: Update, context: AppContext) -> None:
    await reply(update, texts.HELP)


async def resend(update: Update, context: AppContext) -> None:
    """`/resend` for the account registered from this Telegram user, `/resend EMAIL` for any. For an
    address the answer is the same whether or not an account waits there (and is sent before anything is
    looked up), so /resend tells nobody which addresses are registered."""
    accounts = context.services.accounts
    email = None
    if context.args:
        try:
            email = validation.validate_email(context.args[0])
        except validation.ValidationError as error:
            await reply(update, texts.VALIDATION[error.code])
            return
    try:
        await accounts.take_mail_request(update.effective_user.id)
    except RateLimited as error:
        await reply(update, texts.SLOW_DOWN_ACCOUNT.format(until=error.retry_at.strftime("%H:%M")))
        return
    if email:
        await reply(update, texts.RESENT_IF_WAITING.format(email=html.escape(email)))
        try:
            await accounts.resend_activation(email=email)
        except MailThrottled:
            log.info("/resend for an address over its hourly mail limit: nothing sent")
        return
    try:
        user = await accounts.resend_activation(telegram_id=update.effective_user.id)
    except MailThrottled as error:
        await reply(update, texts.RESEND_THROTTLED.format(until=error.retry_at.strftime("%H:%M")))
        return
    if user is None:
        await reply(update, texts.RESEND_NOTHING)
        return
    await reply(update, texts.RESENT.format(email=html.escape(user.email)))


async def nothing_to_cancel(update: Update, context: AppContext) -> None:
    await reply(update, texts.NOTHING_TO_CANCEL)


async def unknown_command(update: Update, context: AppContext) -> None:
    await reply(update, texts.UNKNOWN_COMMAND)


async def not_understood(update: Update, context: AppContext) -> None:
    """A message outside any conversation that is neither a command nor an image."""
    await reply(update, texts.NOT_UNDERSTOOD)


async def stale_button(update: Update, context: AppContext) -> None:
    """A button no handler takes: malformed data, or a conversation's button after it ended."""
    await update.callback_query.answer(texts.BUTTON_STALE)


async def report_error(update: object, context: AppContext) -> None:
    """Log with context but no personal data, and give the user a clear next step.

    A handler that raised did not advance its conversation, so the user simply answers again.
    """
    error = context.error
    kind = type(update).__name__ if update is not None else "no update"
    if isinstance(error, StorageUnavailable):
        log.error("database unavailable while handling %s: %s", kind, error)
        text = texts.DATABASE_DOWN
    else:
        log.error("error while handling %s", kind, exc_info=error)
        text = texts.INTERNAL_ERROR
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(text)
        except Exception:  # the chat may be unreachable too; the log above has the cause
            log.warning("could not tell the user about the error")
