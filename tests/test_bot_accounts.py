"""Account conversations end to end: the real bot against the Bot API emulator, nx-27017 and aiosmtpd."""

from __future__ import annotations

from conftest import STRONG_PASSWORD
from handlers import texts


async def test_start_help_and_command_menu(harness):
    alice = harness.user(1001)
    await alice.send_text("/start")
    welcome = await alice.wait_for()
    assert "medical students" in welcome.text and "/register" in welcome.text
    await alice.send_text("/help")
    assert "/forgot" in (await alice.wait_for()).text
    menu = [c["command"] for c in harness.emulator.commands()]
    assert {"start", "register", "login", "logout", "forgot", "cancel", "help"} <= set(menu)


async def test_register_activate_login_logout(harness):
    alice = harness.user(1001)
    await harness.signed_up(alice)
    await alice.send_text("/me")
    me = await alice.wait_for()
    assert "alice" in me.text and "medical student" in me.text
    await alice.send_text("/logout")
    assert (await alice.wait_for()).text == texts.LOGGED_OUT
    await alice.send_text("/me")
    assert (await alice.wait_for()).text == texts.PLEASE_LOGIN
