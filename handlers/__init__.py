"""Chat handlers: turn Telegram updates into calls on the domain and results into replies.

`register_handlers` is the one place where every handler is wired. Order matters inside group 0:
commands that work anywhere come first (so /start <token> or /help never disturb a conversation),
then the conversations, then the catch-alls.
"""

from __future__ import annotations

import warnings

from telegram import Update
from telegram.warnings import PTBUserWarning
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers import common, diagnosis, instructor, learning, login, password_reset, practice, registration

# The role buttons are pressed on the conversation's latest message, so per-chat/per-user tracking
# (per_message=False) is what we want; PTB warns about it for every such conversation.
warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)


async def _write_through(update: Update, context) -> None:
    """Persist conversation state and user data right after every update (see bot.persistence)."""
    await context.application.update_persistence()


def register_handlers(application: Application) -> None:
    application.add_handlers(
        [
            CommandHandler("start", common.start),
            CommandHandler("help", common.help_command),
            CommandHandler("resend", common.resend),
            CommandHandler("logout", login.logout),
            CommandHandler("me", login.whoami),
            registration.build(),
            login.build(),
            password_reset.build(),
            instructor.build(),
            CommandHandler("history", diagnosis.history),
            CommandHandler("learn", learning.learn),
            CommandHandler("quiz", practice.quiz),
            CommandHandler("progress", practice.progress),
            CommandHandler("remind", practice.remind),
            CommandHandler("share", instructor.share),
            CommandHandler("mycases", instructor.my_cases),
            CallbackQueryHandler(learning.button, pattern=f"^{learning.CALLBACK}"),
            CallbackQueryHandler(practice.button, pattern=f"^{practice.CALLBACK}"),
            CallbackQueryHandler(instructor.my_cases_button, pattern=f"^{instructor.REMOVE_CALLBACK}"),
            MessageHandler(filters.PHOTO, diagnosis.receive_photo),
            MessageHandler(filters.Document.ALL, diagnosis.receive_document),
            CallbackQueryHandler(diagnosis.export_button, pattern=f"^{diagnosis.EXPORT_CALLBACK}"),
            CallbackQueryHandler(diagnosis.preview_button, pattern=f"^{diagnosis.CALLBACK}"),
            CommandHandler("cancel", common.nothing_to_cancel),
            MessageHandler(filters.COMMAND, common.unknown_command),
            MessageHandler(filters.UpdateType.MESSAGE, common.anything_else),
        ]
    )
    application.add_handler(TypeHandler(Update, _write_through), group=100)
    application.add_error_handler(common.error_handler)
