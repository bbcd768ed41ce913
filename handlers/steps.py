"""The steps conversations are made of: replying, reading an answer, a validated text step, the shared
new-password + confirmation steps, and `conversation()`, which gives every conversation the one /cancel
and the one timeout (CONVERSATION_TIMEOUT without an answer ends it, drops its draft, tells the user)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, TypeHandler, filters

from accounts import validation
from accounts.limits import CONVERSATION_TIMEOUT
from accounts.passwords import hash_password, verify_password
from handlers import texts
from handlers.context import AppContext

log = logging.getLogger(__name__)

# An answer inside a conversation: any new message that is not a command (text, sticker, photo…).
ANSWER = filters.UpdateType.MESSAGE & ~filters.COMMAND

Step = Callable[[Update, AppContext], Awaitable[int]]


async def reply(update: Update, text: str, **kwargs) -> Message:
    return await update.effective_chat.send_message(text, **kwargs)


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


async def ask_again(update: Update, error_code: str, question: str) -> None:
    """Say what was wrong with the answer (the specification's validation text) and ask again."""
    await reply(update, f"{texts.VALIDATION[error_code]}\n\n{question}")


async def validated_text(update: Update, validate: Callable[[str], str], question: str) -> str | None:
    """The validated text step: the answer as `validate` returns it, or None after saying why and asking
    `question` again (the caller then stays in its state)."""
    try:
        return validate(typed_text(update))
    except validation.ValidationError as error:
        await ask_again(update, error.code, question)
        return None


def password_steps(
    draft: str, password: tuple[int, str], confirm: tuple[int, str], confirmed: Step
) -> dict[int, list[BaseHandler]]:
    """The new password and its confirmation, as two conversation states: `password` and `confirm` are
    (state, question). Each message is deleted as soon as it is read; only the argon2 hash (computed off
    the event loop) is kept, in `user_data[draft]["password_hash"]`. Once confirmed, `confirmed` runs."""
    password_state, ask_password = password
    confirm_state, ask_confirm = confirm

    async def receive_password(update: Update, context: AppContext) -> int:
        value = typed_text(update)
        await delete_secret(update.effective_message)
        try:
            validation.validate_password(value)
        except validation.ValidationError as error:
            await ask_again(update, error.code, ask_password)
            return password_state
        context.user_data.setdefault(draft, {})["password_hash"] = await asyncio.to_thread(hash_password, value)
        await reply(update, ask_confirm)
        return confirm_state

    async def receive_confirmation(update: Update, context: AppContext) -> int:
        value = typed_text(update)
        await delete_secret(update.effective_message)
        password_hash = context.user_data.setdefault(draft, {}).get("password_hash", "")
        if not value.strip():
            await ask_again(update, "confirm_required", ask_confirm)
            return confirm_state
        if not await asyncio.to_thread(verify_password, password_hash, value):
            await ask_again(update, "confirm_mismatch", ask_confirm)
            return confirm_state
        return await confirmed(update, context)

    return {
        password_state: [MessageHandler(ANSWER, receive_password)],
        confirm_state: [MessageHandler(ANSWER, receive_confirmation)],
    }


async def end(update: Update, context: AppContext, draft: str, text: str) -> int:
    """Leave a conversation: drop its draft from `user_data` and say `text`."""
    context.user_data.pop(draft, None)
    await reply(update, text)
    return ConversationHandler.END


async def reject_other_command(update: Update, context: AppContext) -> None:
    """Inside a conversation, another command gets a hint instead of starting a second flow."""
    await reply(update, texts.IN_CONVERSATION)


LAST_ANSWER = "conversation_at"  # user_data: when the conversation last heard from the user (epoch ms)


def _now_ms(context: AppContext) -> int:
    return int(context.services.clock.now().timestamp() * 1000)


async def timed_out(update: object, context: AppContext, draft: str) -> None:
    """End of a conversation by its timeout: drop the draft and tell the user."""
    context.user_data.pop(draft, None)
    context.user_data.pop(LAST_ANSWER, None)
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None:
        try:
            await context.bot.send_message(chat.id, texts.CONVERSATION_TIMED_OUT)
        except TelegramError as exc:
            log.warning("could not tell a chat its conversation timed out: %s", exc)


def _fresh(callback, draft: str, *, entry: bool = False):
    """Run a step only if the conversation has not outlived CONVERSATION_TIMEOUT (by the services' clock,
    so it also holds across restarts, where PTB's timeout job is lost); else end it as timed out."""

    async def step(update: Update, context: AppContext):
        now = _now_ms(context)
        last = context.user_data.get(LAST_ANSWER)
        if not entry and isinstance(last, int) and now - last > CONVERSATION_TIMEOUT.total_seconds() * 1000:
            await timed_out(update, context, draft)
            return ConversationHandler.END
        context.user_data[LAST_ANSWER] = now
        result = await callback(update, context)
        if result == ConversationHandler.END:
            context.user_data.pop(LAST_ANSWER, None)
        return result

    return step


def conversation(name: str, command: str, start: Step, states: dict[int, list[BaseHandler]],
                 draft: str) -> ConversationHandler:
    """A persistent conversation entered by /`command`, whose answers are kept in `user_data[draft]`;
    /cancel leaves it (draft dropped), any other command gets a hint, and CONVERSATION_TIMEOUT without an
    answer ends it (draft dropped, the user told)."""

    async def cancel(update: Update, context: AppContext) -> int:
        context.user_data.pop(LAST_ANSWER, None)
        return await end(update, context, draft, texts.CANCELLED)

    async def on_timeout(update: object, context: AppContext) -> None:
        await timed_out(update, context, draft)
        # PTB ends the conversation right after this returns: write that (and the dropped draft) through
        context.application.create_task(context.application.update_persistence())

    for handlers in states.values():
        for handler in handlers:
            handler.callback = _fresh(handler.callback, draft)
    return ConversationHandler(
        entry_points=[CommandHandler(command, _fresh(start, draft, entry=True))],
        states={**states, ConversationHandler.TIMEOUT: [TypeHandler(Update, on_timeout)]},
        fallbacks=[CommandHandler("cancel", cancel), MessageHandler(filters.COMMAND, reject_other_command)],
        name=name,
        persistent=True,
        conversation_timeout=CONVERSATION_TIMEOUT.total_seconds(),
    )
