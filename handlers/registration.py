"""/register: username → email → password → confirm → role, each answer validated on arrival.

The draft lives in `user_data` (persisted in MongoDB), holding only the password's argon2 hash.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from accounts import validation
from accounts.errors import EmailTaken, MailNotSent
from accounts.models import Role
from bot.services import get_services
from handlers import texts
from handlers.chat import ANSWER, read_confirmation, read_new_password, reject_other_command, reply, typed_text

USERNAME, EMAIL, PASSWORD, CONFIRM, ROLE = range(5)
DRAFT = "registration"
ROLE_CALLBACK = "role:"


def role_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts.ROLE_BUTTON_STUDENT, callback_data=ROLE_CALLBACK + Role.STUDENT.value)],
            [InlineKeyboardButton(texts.ROLE_BUTTON_PROFESSIONAL, callback_data=ROLE_CALLBACK + Role.PROFESSIONAL.value)],
        ]
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    session = await get_services(context).accounts.current_session(update.effective_user.id)
    if session is not None:
        await reply(update, texts.ALREADY_LOGGED_IN.format(username=html.escape(session.username)))
        return ConversationHandler.END
    context.user_data[DRAFT] = {}
    await reply(update, texts.ASK_USERNAME)
    return USERNAME


async def receive_username(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    try:
        username = validation.validate_username(typed_text(update))
    except validation.ValidationError as error:
        await reply(update, f"{texts.VALIDATION[error.code]}\n\n{texts.ASK_USERNAME}")
        return USERNAME
    context.user_data.setdefault(DRAFT, {})["username"] = username
    await reply(update, texts.ASK_EMAIL)
    return EMAIL


async def receive_email(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    try:
        email = validation.validate_email(typed_text(update))
    except validation.ValidationError as error:
        await reply(update, f"{texts.VALIDATION[error.code]}\n\n{texts.ASK_EMAIL}")
        return EMAIL
    if await get_services(context).accounts.email_taken(email):
        await reply(update, texts.EMAIL_TAKEN)
        return EMAIL
    draft = context.user_data.setdefault(DRAFT, {})
    draft["email"] = email
    if "password_hash" in draft:  # back here after "email taken": the password is kept
        return await _ask_role(update)
    await reply(update, texts.ASK_PASSWORD)
    return PASSWORD


async def receive_password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    password_hash = await read_new_password(update, texts.ASK_PASSWORD)
    if password_hash is None:
        return PASSWORD
    context.user_data.setdefault(DRAFT, {})["password_hash"] = password_hash
    await reply(update, texts.ASK_CONFIRM)
    return CONFIRM


async def receive_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    draft = context.user_data.setdefault(DRAFT, {})
    if not await read_confirmation(update, draft.get("password_hash", ""), texts.ASK_CONFIRM):
        return CONFIRM
    return await _ask_role(update)


async def _ask_role(update: Update) -> int:
    await reply(update, texts.ASK_ROLE, reply_markup=role_keyboard())
    return ROLE


async def role_not_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await reply(update, texts.ROLE_PLEASE_PRESS, reply_markup=role_keyboard())
    return ROLE


async def receive_role(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    await query.answer()
    role = Role(query.data.removeprefix(ROLE_CALLBACK))
    draft = context.user_data.get(DRAFT, {})
    await query.edit_message_text(f"{texts.ASK_ROLE}\n→ <b>{texts.ROLE_NAMES[role.value].capitalize()}</b>")
    accounts = get_services(context).accounts
    name, email = html.escape(draft["username"]), html.escape(draft["email"])
    try:
        await accounts.register(
            draft["username"], draft["email"], draft["password_hash"], role, telegram_id=update.effective_user.id
        )
    except EmailTaken:
        await reply(update, texts.EMAIL_TAKEN)
        return EMAIL
    except MailNotSent:
        await reply(update, texts.REGISTERED_MAIL_FAILED.format(username=name))
    else:
        await reply(update, texts.REGISTERED.format(username=name, email=email))
    context.user_data.pop(DRAFT, None)
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    context.user_data.pop(DRAFT, None)
    await reply(update, texts.CANCELLED)
    return ConversationHandler.END


def build() -> ConversationHandler:
    return ConversationHandler(
        entry_points=[CommandHandler("register", start)],
        states={
            USERNAME: [MessageHandler(ANSWER, receive_username)],
            EMAIL: [MessageHandler(ANSWER, receive_email)],
            PASSWORD: [MessageHandler(ANSWER, receive_password)],
            CONFIRM: [MessageHandler(ANSWER, receive_confirm)],
            ROLE: [
                CallbackQueryHandler(receive_role, pattern=f"^{ROLE_CALLBACK}"),
                MessageHandler(ANSWER, role_not_pressed),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel), MessageHandler(filters.COMMAND, reject_other_command)],
        name="register",
        persistent=True,
    )
