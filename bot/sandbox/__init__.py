"""`ecg-bot sandbox`: the real bot against the Bot API emulator, with a Telegram-like web chat,
simulated users and a mailbox showing what the bot mailed. See :mod:`bot.sandbox.server`."""

from __future__ import annotations


def sandbox_main(argv: list[str] | None = None) -> int:
    from .main import sandbox_main as _main

    return _main(argv)


def __getattr__(name: str):
    if name in ("Sandbox", "start_sandbox"):
        from . import server

        return getattr(server, name)
    raise AttributeError(name)


__all__ = ["Sandbox", "sandbox_main", "start_sandbox"]
