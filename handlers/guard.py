"""What reaches no handler at all (group -2 of `handlers.routes`, before everything else):

- edited messages and channel posts: ignored (an edit is not a new answer; a password edited in is not
  read, an edited photo is not analysed again);
- any update from a group, supergroup or channel: the bot says once per chat that it works in private
  chats only (passwords typed in a group cannot be deleted, diagnoses would be posted to every member)
  and leaves the rest alone; a button pressed there is answered with the same words;
- a button pressed by someone other than the user whose private chat holds the message: answered
  "not yours", nothing done.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from handlers import texts
from handlers.context import AppContext

log = logging.getLogger(__name__)

TOLD_PRIVATE_ONLY = "told_private_only"  # chat_data of a group: the notice was sent


async def screen(update: Update, context: AppContext) -> None:
    if update.edited_message or update.edited_channel_post or update.channel_post:
        raise ApplicationHandlerStop
    chat = update.effective_chat
    query = update.callback_query
    if chat is not None and chat.type != ChatType.PRIVATE:
        await _private_only(update, context)
        raise ApplicationHandlerStop
    if query is not None and query.message is not None and query.message.chat.id != query.from_user.id:
        await query.answer(texts.BUTTON_NOT_YOURS)
        raise ApplicationHandlerStop


async def _private_only(update: Update, context: AppContext) -> None:
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(texts.PRIVATE_ONLY, show_alert=True)
            return
        if context.chat_data is None or context.chat_data.get(TOLD_PRIVATE_ONLY):
            return
        left = update.my_chat_member is not None and update.my_chat_member.new_chat_member.status in ("left", "kicked")
        if left:
            return
        context.chat_data[TOLD_PRIVATE_ONLY] = True
        await update.effective_chat.send_message(texts.PRIVATE_ONLY)
        await context.application.update_persistence()
    except TelegramError as exc:  # no right to write there: nothing more to do
        log.info("private-only notice not delivered: %s", exc)
