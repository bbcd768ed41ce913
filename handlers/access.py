"""The one access policy: who may run a command or press a button.

`@require_login`, `@students_only` and `@instructors_only` run `callback(update, context, session, *args)`
with the user's valid session; otherwise they answer (a pressed button is always answered), tell the user
why and end any conversation the update belongs to. `peek_session` is for the few places that ask
without refusing (is this user already logged in; a lesson link opened while logged out).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler

from accounts.models import Session
from handlers import texts
from handlers.context import AppContext
from handlers.jobs import expire_due_sessions
from handlers.steps import reply

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Policy:
    allows: Callable[[Session], bool]
    refusal: str


ANYONE = Policy(lambda session: True, "")
STUDENTS = Policy(lambda session: session.can_learn, texts.LESSONS_STUDENTS_ONLY)
INSTRUCTORS = Policy(lambda session: session.is_instructor, texts.INSTRUCTORS_ONLY)


async def peek_session(update: Update, context: AppContext) -> Session | None:
    """The user's valid session, or None; tells the user nothing."""
    return await context.services.accounts.current_session(update.effective_user.id)


async def _session_or_say_why(update: Update, context: AppContext) -> Session | None:
    """The user's valid session, or None after telling the user why.

    A session found past its expiry is ended on the spot (the user gets the expiry notice instead
    of waiting for the job to fire); with no session at all the answer is "Please /login first".
    """
    session = await peek_session(update, context)
    if session is not None:
        return session
    user_id = update.effective_user.id
    ended = await expire_due_sessions(context.application)
    if not any(s.telegram_id == user_id for s in ended):
        await update.effective_chat.send_message(texts.PLEASE_LOGIN)
    return None


async def admitted(update: Update, session: Session, policy: Policy) -> bool:
    """Whether the policy lets this session in; if not, the user is told (and a button answered)."""
    if policy.allows(session):
        return True
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, policy.refusal)
    return False


def _decorator_for(policy: Policy) -> Callable[[Handler], Handler]:
    def decorator(callback: Handler) -> Handler:
        @functools.wraps(callback)
        async def wrapper(update: Update, context: AppContext, *args: Any) -> Any:
            session = await _session_or_say_why(update, context)
            if session is None:
                if update.callback_query is not None:
                    await update.callback_query.answer()
                return ConversationHandler.END
            if not await admitted(update, session, policy):
                return ConversationHandler.END
            return await callback(update, context, session, *args)

        return wrapper

    return decorator


require_login = _decorator_for(ANYONE)
students_only = _decorator_for(STUDENTS)
instructors_only = _decorator_for(INSTRUCTORS)
