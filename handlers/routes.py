"""`register_handlers`, the one place where every handler is wired.

Order matters inside group 0: commands that work anywhere come first (so /start <token> or /help never
disturb a conversation), then the conversations, then the buttons (each kind by its typed callback data),
then the catch-alls — the last of which answers any button nobody took.
"""

from __future__ import annotations

import warnings

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters
from telegram.warnings import PTBUserWarning

from handlers import (
    diagnosis,
    general,
    guard,
    instructor,
    learning,
    login,
    password_change,
    password_reset,
    practice,
    registration,
    throttle,
)
from handlers.callbacks import (
    ExportDigitized,
    LessonList,
    LessonPage,
    NextQuestion,
    OpenLesson,
    PreviewAction,
    QuizAnswer,
    RemoveCase,
)
from handlers.context import AppContext

# The role buttons are pressed on the conversation's latest message, so per-chat/per-user tracking
# (per_message=False) is what we want; PTB warns about it for every such conversation.
warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)


async def write_through(update: Update, context: AppContext) -> None:
    """Persist conversation state and user data right after every update (see bot.persistence)."""
    await context.application.update_persistence()


def register_handlers(application: Application) -> None:
    application.add_handlers(
        [
            CommandHandler("start", general.start),
            CommandHandler("help", general.show_help),
            CommandHandler("resend", general.resend),
            CommandHandler("logout", login.logout),
            CommandHandler("me", login.whoami),
            registration.build(),
            login.build(),
            password_reset.build(),
            password_change.build(),
            instructor.build(),
            CommandHandler("history", diagnosis.history),
            CommandHandler("learn", learning.learn),
            CommandHandler("quiz", practice.quiz),
            CommandHandler("progress", practice.progress),
            CommandHandler("remind", practice.remind),
            CommandHandler("share", instructor.share),
            CommandHandler("mycases", instructor.my_cases),
            CallbackQueryHandler(learning.show_lesson_list, pattern=LessonList.matches),
            CallbackQueryHandler(learning.open_lesson_button, pattern=OpenLesson.matches),
            CallbackQueryHandler(learning.turn_page, pattern=LessonPage.matches),
            CallbackQueryHandler(practice.answer_question, pattern=QuizAnswer.matches),
            CallbackQueryHandler(practice.next_question, pattern=NextQuestion.matches),
            CallbackQueryHandler(instructor.remove_case, pattern=RemoveCase.matches),
            MessageHandler(filters.PHOTO, diagnosis.receive_photo),
            MessageHandler(filters.Document.ALL, diagnosis.receive_document),
            CallbackQueryHandler(diagnosis.send_digitized, pattern=ExportDigitized.matches),
            CallbackQueryHandler(diagnosis.answer_preview, pattern=PreviewAction.matches),
            CommandHandler("cancel", general.nothing_to_cancel),
            MessageHandler(filters.COMMAND, general.unknown_command),
            MessageHandler(filters.UpdateType.MESSAGE, general.not_understood),
            CallbackQueryHandler(general.stale_button),
        ]
    )
    application.add_handler(TypeHandler(Update, guard.screen), group=-2)  # private chats only, no edits
    application.add_handler(TypeHandler(Update, throttle.limit_messages), group=-1)  # before everything
    application.add_handler(TypeHandler(Update, write_through), group=100)
    application.add_error_handler(general.report_error)
