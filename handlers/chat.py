"""Small helpers shared by the conversations."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes, filters

from handlers import texts

log = logging.getLogger(__name__)

# An answer inside a conversation: any new message that is not a command (text, sticker, photo…).
ANSWER = filters.UpdateType.MESSAGE & ~filters.COMMAND


def typed_text(update: Update) -> str:
    """The text of the message; a sticker, photo or other non-text answer counts as empty."""
    message = update.effective_message
    return (message.text or "") if message is not None else ""


async def delete_secret(message: Message | None) -> None:
    """Delete a message that carried a password, as soon as it has been read."""
    if message is None:
        return
    try:
        await message.delete()
    except TelegramError as exc:  # too old or already gone: nothing more we can do
        log.warning("could not delete a password message: %s", exc)


async def reply(update: Update, text: str, **kwargs) -> Message:
    return await update.effective_chat.send_message(text, **kwargs)


async def reject_other_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Inside a conversation, another command gets a hint instead of starting a second flow."""
    await reply(update, texts.IN_CONVERSATION)
