"""/register: username → email → password → confirm → role, each answer validated on arrival.

The draft lives in `user_data` (persisted in MongoDB), holding only the password's argon2 hash.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler

from accounts import validation
from accounts.errors import EmailTaken, RateLimited
from accounts.models import Role
from handlers import texts
from handlers.access import peek_session
from handlers.callbacks import ChooseRole
from handlers.context import AppContext
from handlers.steps import ANSWER, conversation, end, password_steps, reply, validated_text

USERNAME, EMAIL, PASSWORD, CONFIRM, ROLE = range(5)
DRAFT = "registration"


def role_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts.ROLE_BUTTON_STUDENT, callback_data=ChooseRole(Role.STUDENT.value).pack())],
            [InlineKeyboardButton(texts.ROLE_BUTTON_PROFESSIONAL,
                                  callback_data=ChooseRole(Role.PROFESSIONAL.value).pack())],
        ]
    )


async def start(update: Update, context: AppContext) -> int:
    session = await peek_session(update, context)
    if session is not None:
        await reply(update, texts.ALREADY_LOGGED_IN.format(username=html.escape(session.username)))
        return ConversationHandler.END
    try:
        await context.services.accounts.registration_allowed(update.effective_user.id)
    except RateLimited as error:
        await reply(update, texts.SLOW_DOWN_ACCOUNT.format(until=error.retry_at.strftime("%H:%M")))
        return ConversationHandler.END
    context.user_data[DRAFT] = {}
    await reply(update, texts.ASK_USERNAME)
    return USERNAME


async def receive_username(update: Update, context: AppContext) -> int:
    username = await validated_text(update, validation.validate_username, texts.ASK_USERNAME)
    if username is None:
        return USERNAME
    context.user_data.setdefault(DRAFT, {})["username"] = username
    await reply(update, texts.ASK_EMAIL)
    return EMAIL


async def receive_email(update: Update, context: AppContext) -> int:
    email = await validated_text(update, validation.validate_email, texts.ASK_EMAIL)
    if email is None:
        return EMAIL
    if await context.services.accounts.email_taken(email):
        await reply(update, texts.EMAIL_TAKEN)
        return EMAIL
    draft = context.user_data.setdefault(DRAFT, {})
    draft["email"] = email
    if "password_hash" in draft:  # back here after "email taken": the password is kept
        return await ask_role(update, context)
    await reply(update, texts.ASK_PASSWORD)
    return PASSWORD


async def ask_role(update: Update, context: AppContext) -> int:
    await reply(update, texts.ASK_ROLE, reply_markup=role_keyboard())
    return ROLE


async def role_not_pressed(update: Update, context: AppContext) -> int:
    await reply(update, texts.ROLE_PLEASE_PRESS, reply_markup=role_keyboard())
    return ROLE


async def receive_role(update: Update, context: AppContext) -> int:
    query = update.callback_query
    await query.answer()
    role = Role(ChooseRole.parse(query.data).role)
    draft = context.user_data.get(DRAFT, {})
    if not {"username", "email", "password_hash"} <= draft.keys():  # the draft is gone (timed out meanwhile)
        return await end(update, context, DRAFT, texts.CONVERSATION_TIMED_OUT)
    await query.edit_message_text(f"{texts.ASK_ROLE}\n→ <b>{texts.ROLE_NAMES[role.value].capitalize()}</b>")
    name, email = html.escape(draft["username"]), html.escape(draft["email"])
    try:
        await context.services.accounts.register(
            draft["username"], draft["email"], draft["password_hash"], role, telegram_id=update.effective_user.id
        )
    except EmailTaken:
        await reply(update, texts.EMAIL_TAKEN)
        return EMAIL
    except RateLimited as error:
        await reply(update, texts.SLOW_DOWN_ACCOUNT.format(until=error.retry_at.strftime("%H:%M")))
    else:
        await reply(update, texts.REGISTERED.format(username=name, email=email))
    context.user_data.pop(DRAFT, None)
    return ConversationHandler.END


def build() -> ConversationHandler:
    return conversation(
        "register", "register", start,
        {
            USERNAME: [MessageHandler(ANSWER, receive_username)],
            EMAIL: [MessageHandler(ANSWER, receive_email)],
            **password_steps(DRAFT, (PASSWORD, texts.ASK_PASSWORD), (CONFIRM, texts.ASK_CONFIRM), ask_role),
            ROLE: [
                CallbackQueryHandler(receive_role, pattern=ChooseRole.matches),
                MessageHandler(ANSWER, role_not_pressed),
            ],
        },
        DRAFT,
    )
