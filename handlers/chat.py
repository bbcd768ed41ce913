"""Small helpers shared by the conversations."""

from __future__ import annotations

import asyncio
import io
import logging

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes, filters

from accounts import validation
from accounts.passwords import hash_password, verify_password
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


async def read_new_password(update: Update, question: str) -> str | None:
    """The password step of /register and /forgot: delete the message, validate it, and return its
    argon2 hash (computed off the event loop); on a bad password say why, ask again, return None."""
    password = typed_text(update)
    await delete_secret(update.effective_message)
    try:
        validation.validate_password(password)
    except validation.ValidationError as error:
        await reply(update, f"{texts.VALIDATION[error.code]}\n\n{question}")
        return None
    return await asyncio.to_thread(hash_password, password)


async def read_confirmation(update: Update, password_hash: str, question: str) -> bool:
    """The confirmation step: delete the message; True if it matches the hashed password, else say
    why ("required" or "must match") and ask again."""
    confirm = typed_text(update)
    await delete_secret(update.effective_message)
    if not confirm.strip():
        error = "confirm_required"
    elif not await asyncio.to_thread(verify_password, password_hash, confirm):
        error = "confirm_mismatch"
    else:
        return True
    await reply(update, f"{texts.VALIDATION[error]}\n\n{question}")
    return False


def is_readable_image(data: bytes) -> bool:
    """Whether Pillow can decode the bytes as an image (run it in a thread: it parses the file)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        return True
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return False
