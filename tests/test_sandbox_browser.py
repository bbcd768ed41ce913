"""`ecg-bot sandbox` in a real browser: headless Chromium (Debian's) driven with Selenium through
register → open the activation mail in the Mailbox → click the link → login → logout, asserting on
what the page shows. The sandbox runs in-process (the same `start_sandbox` `ecg-bot sandbox` uses),
with its embedded nx-27017 and mail outbox; the Selenium calls run in a thread so the event loop
keeps serving the page and the bot.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.sandbox.browser import chromium_driver, ensure_browser, page_errors

PASSWORD = "Str0ng!pass"
EMAIL = "alice@example.com"
WAIT = 20
SHARED_ECGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg-images"


@pytest.fixture(scope="module")
def browser_available():
    reason = ensure_browser()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests need headless Chromium: {reason}", pytrace=False)
        pytest.skip(f"browser tests need headless Chromium: {reason}")


class Page:
    """Synchronous helpers over the sandbox page (run in a worker thread)."""

    def __init__(self, driver, url: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.url = url
        self.wait = WebDriverWait(driver, WAIT, poll_frequency=0.1)

    def css(self, selector):
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def until(self, condition, message: str):
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException

        def check(_driver):
            try:
                return condition()
            except StaleElementReferenceException:  # a bubble re-rendered (edited) meanwhile
                return None
            except IndexError:  # page.css(...)[0] before the element is on the page: not yet
                return None

        try:
            return self.wait.until(check)
        except TimeoutException as exc:
            bubbles = [f"{m['from']}#{m['id']}: {m['text'][:120]!r}" for m in self.messages()]
            raise AssertionError(f"{message}\nchat on the page:\n  " + "\n  ".join(bubbles[-12:])) from exc

    def messages(self) -> list[dict]:
        """The bubbles on the page, read in one go (no stale elements)."""
        return self.d.execute_script(
            "return [...document.querySelectorAll('#messages .msg')].map(m => ({id: Number(m.dataset.messageId),"
            " from: m.dataset.from, text: m.querySelector('.text').innerText}))")

    def bubble(self, message_id: int):
        return self.css(f'#messages .msg[data-message-id="{message_id}"]')[0]

    def assert_no_errors(self) -> None:
        errors = page_errors(self.d)
        assert not errors, "the page logged errors:\n" + "\n".join(errors)

    def open(self) -> None:
        self.d.get(self.url)
        self.until(lambda: self.css('#users li.active[data-user-id="1001"]'), "Alice's chat is not selected")
        self.until(lambda: self.d.execute_script("return document.body.dataset.live") == "1",
                   "the page never connected its WebSocket")

    def last_id(self) -> int:
        return max((m["id"] for m in self.messages()), default=0)

    def bot_text_after(self, after: int, needle: str) -> int:
        """Waits for a bot bubble newer than ``after`` containing ``needle``; returns its message id."""
        def find():
            for m in self.messages():
                if m["from"] == "bot" and m["id"] > after and needle in m["text"]:
                    return m["id"]
            return None

        return self.until(find, f"no new bot message containing {needle!r}")

    def user_bubbles(self) -> list[str]:
        return [m["text"] for m in self.messages() if m["from"] == "user"]

    def send(self, text: str, expect: str):
        from selenium.webdriver.common.keys import Keys

        before = self.last_id()
        box = self.css("#input")[0]
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        return self.bot_text_after(before, expect)

    def send_secret(self, text: str, expect: str):
        reply = self.send(text, expect)
        self.until(lambda: not any(text in t for t in self.user_bubbles()),
                   "the password bubble is still shown: the bot should have deleted it")
        return reply

    def command_from_menu(self, command: str, expect: str):
        before = self.last_id()
        self.css("#menu-button")[0].click()
        item = self.until(lambda: self.css(f'#command-menu .cmd[data-command="{command}"]'),
                          f"/{command} is not in the command menu")[0]
        item.click()
        return self.bot_text_after(before, expect)


def drive_register_activate_login_logout(driver, url: str) -> None:
    page = Page(driver, url)
    page.open()

    # the command menu lists what setMyCommands set
    page.css("#menu-button")[0].click()
    menu = page.until(lambda: page.css("#command-menu .cmd"), "the command menu is empty")
    assert {"register", "login", "logout"} <= {c.get_attribute("data-command") for c in menu}
    page.css("#menu-button")[0].click()

    # register
    page.command_from_menu("register", "username")
    page.send("alice", "email")
    page.send(EMAIL, "password")
    page.send_secret(PASSWORD, "confirm")
    before = page.last_id()
    prompt = page.send_secret(PASSWORD, "medical student or a healthcare professional")
    buttons = page.bubble(prompt).find_elements("css selector", ".keyboard button")
    assert "Medical student" in [b.text for b in buttons]
    next(b for b in buttons if b.text == "Medical student").click()
    created = page.bot_text_after(before, "Account created")
    bold = [b.text for b in page.bubble(created).find_elements("css selector", ".text b")]
    assert "alice" in bold, "the username should be bold (the bot's HTML formatting)"

    # the Mailbox shows the activation mail; its link opens in the chat as /start <token>
    mail = page.until(lambda: [m for m in page.css("#mails li.mail") if EMAIL in m.text],
                      "no activation mail in the Mailbox")[0]
    mail.click()
    link = page.until(lambda: mail.find_elements("css selector", ".mail-body a.deep-link"),
                      "the activation mail has no t.me deep link")[0]
    before = page.last_id()
    link.click()
    page.bot_text_after(before, "is active")
    assert any(t.startswith("/start ") for t in page.user_bubbles()), "the deep link should send /start <token>"

    # login, then logout
    page.command_from_menu("login", "email")
    page.send(EMAIL, "password")
    page.send_secret(PASSWORD, "Welcome")
    page.send("/logout", "logged out")

    # Bob's chat is separate: nothing of Alice's there
    page.css('#users li[data-user-id="1002"]')[0].click()
    page.until(lambda: page.css('#users li.active[data-user-id="1002"]'), "Bob's chat did not open")
    page.until(lambda: not page.css("#messages .msg"), "Bob's chat should be empty")
    page.assert_no_errors()


async def test_register_mail_activate_login_logout_in_chromium(browser_available, sandbox, tmp_path):
    driver = await asyncio.to_thread(chromium_driver, tmp_path / "chromium-profile")
    try:
        await asyncio.to_thread(drive_register_activate_login_logout, driver, sandbox.page_url)
    finally:
        await asyncio.to_thread(driver.quit)
    alice = sandbox.emulator.user(1001)
    texts = [m.content for m in alice.history() if not m.deleted]
    assert not any(PASSWORD in t for t in texts), "a password survived in the chat"
    assert any("logged out" in t for t in texts)


# --- the page's rendering of everything the bot can do, driven from the Bot API side -------------

def _png(width: int, height: int, color=(30, 120, 200)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def drive_media_edits_actions(driver, url: str, bot_call, tmp_path) -> None:
    """``bot_call(method, params, files=None)`` makes a Bot API call as the bot (from the page's thread)."""
    from bot.emulator import UploadedFile

    page = Page(driver, url)
    page.open()
    page.send("/start", "ECG Analyzer")  # a bot can't write first
    img = lambda sel: page.d.execute_script(  # noqa: E731
        "const i = document.querySelector(arguments[0]); return i && i.complete ? i.naturalWidth : 0", sel)

    # chat action: "typing…" in the header, gone when the message arrives
    bot_call("sendChatAction", {"chat_id": 1001, "action": "typing"})
    page.until(lambda: page.css("#chat-status")[0].text == "typing…", "no typing… indicator")

    # HTML formatting: only Telegram's tags, anything else shown as text
    html = ('<b>bold</b> <i>it</i> <u>under</u> <s>struck</s> <a href="https://example.org/x">link</a> '
            '<tg-spoiler>secret</tg-spoiler> <code>x&lt;y</code> &lt;script&gt;alert(1)&lt;/script&gt; '
            '<img src=x onerror=alert(2)>')
    try:
        bot_call("sendMessage", {"chat_id": 1001, "text": html, "parse_mode": "HTML"})
        raise AssertionError("Telegram rejects <img>: the emulator should too")
    except Exception as exc:  # the emulator answers 400 like Telegram; send the valid part
        assert "400" in str(exc) or "Unsupported" in str(exc), exc
    sent = bot_call("sendMessage", {"chat_id": 1001, "text": html.rsplit(" <img", 1)[0], "parse_mode": "HTML"})
    bubble_sel = f'#messages .msg[data-message-id="{sent["message_id"]}"]'
    bubble = page.until(lambda: page.css(bubble_sel), "the formatted message is not shown")[0]
    page.until(lambda: page.css("#chat-status")[0].text == "bot", "typing… should end with the message")
    tags = page.d.execute_script(
        "return [...document.querySelector(arguments[0] + ' .text').querySelectorAll('*')].map(e => e.tagName)",
        bubble_sel)
    assert {"B", "I", "U", "S", "A", "CODE", "SPAN"} <= set(tags), tags
    assert "SCRIPT" not in tags and "IMG" not in tags
    assert "<script>alert(1)</script>" in bubble.text and "x<y" in bubble.text
    link = bubble.find_element("css selector", ".text a[href='https://example.org/x']")
    assert link.get_attribute("rel") == "noopener noreferrer"
    spoiler = bubble.find_element("css selector", ".spoiler")
    spoiler.click()
    assert "revealed" in spoiler.get_attribute("class")

    # progress message with a keyboard, edited in place, then deleted
    progress = bot_call("sendMessage", {"chat_id": 1001, "text": "Analysing… 10%",
                                        "reply_markup": {"inline_keyboard": [[{"text": "Stop", "callback_data": "stop"}]]}})
    sel = f'#messages .msg[data-message-id="{progress["message_id"]}"]'
    page.until(lambda: "10%" in page.css(sel)[0].text, "progress message not shown")
    page.css(sel + " .keyboard button")[0].click()
    bot_call("editMessageText", {"chat_id": 1001, "message_id": progress["message_id"], "text": "Analysing… 90%"})
    page.until(lambda: "90%" in page.css(sel)[0].text and "edited" in page.css(sel)[0].text,
               "the edit did not update the bubble in place")
    assert len(page.css(sel)) == 1

    # a photo and files from the bot, shown inline
    photo = bot_call("sendPhoto", {"chat_id": 1001, "caption": "<b>Heat map</b>", "parse_mode": "HTML"},
                     {"photo": UploadedFile("map.png", "image/png", _png(640, 360))})
    page.until(lambda: img(f'#messages .msg[data-message-id="{photo["message_id"]}"] img.photo') == 640,
               "the bot's photo is not shown")
    doc = bot_call("sendDocument", {"chat_id": 1001},
                   {"document": UploadedFile("report.pdf", "application/pdf", b"%PDF-1.4\n%test\n")})
    page.until(lambda: "report.pdf" in page.css(f'#messages .msg[data-message-id="{doc["message_id"]}"]')[0].text,
               "the bot's document is not shown")

    bot_call("deleteMessage", {"chat_id": 1001, "message_id": progress["message_id"]})
    page.until(lambda: not page.css(sel), "the deleted message is still shown")

    # the user sends a photo and a file from the computer
    picture = tmp_path / "my-ecg.png"
    picture.write_bytes(_png(300, 200, (250, 250, 250)))
    before = page.last_id()
    page.css("#photo-input")[0].send_keys(str(picture))
    page.until(lambda: any(m["from"] == "user" and m["id"] > before for m in page.messages()), "photo not sent")
    page.until(lambda: img('#messages .msg[data-from="user"][data-kind="photo"] img.photo') > 0,
               "the user's photo is not shown")
    page.css("#file-input")[0].send_keys(str(picture))
    page.until(lambda: page.css('#messages .msg[data-from="user"][data-kind="document"]'), "file not sent")
    assert "my-ecg.png" in page.css('#messages .msg[data-from="user"][data-kind="document"]')[0].text

    # another user, with its own empty chat
    page.css("#add-user-name")[0].send_keys("Carol")
    page.css("#add-user")[0].click()
    page.until(lambda: any("Carol" in li.text for li in page.css("#users li.active")), "Carol was not added")
    page.until(lambda: not page.css("#messages .msg"), "Carol's chat should be empty")
    page.assert_no_errors()


async def test_bot_media_edits_deletions_actions_render_live(browser_available, sandbox, tmp_path):
    from bot.emulator import ApiError

    loop = asyncio.get_running_loop()
    token = sandbox.emulator.token

    def bot_call(method, params, files=None):
        future = asyncio.run_coroutine_threadsafe(sandbox.emulator.core.call(token, method, params, files), loop)
        try:
            return future.result(timeout=10)
        except ApiError as exc:
            raise RuntimeError(f"{exc.error_code} {exc}") from None

    driver = await asyncio.to_thread(chromium_driver, tmp_path / "chromium-profile")
    try:
        await asyncio.to_thread(drive_media_edits_actions, driver, sandbox.page_url, bot_call, tmp_path)
    finally:
        await asyncio.to_thread(driver.quit)
    pressed = [q.data for q in sandbox.emulator.user(1001).callback_queries]
    assert "stop" in pressed, "pressing the inline button reaches the bot as a callback query"


# --- the ECG flow in the page: upload → preview → Confirm → its caption the progress → result -------

def drive_upload_confirm_result(driver, url: str, tmp_path, ecg_bytes: bytes, expected) -> None:
    page = Page(driver, url)
    page.open()
    img_width = lambda sel: page.d.execute_script(  # noqa: E731
        "const i = document.querySelector(arguments[0]); return i && i.complete ? i.naturalWidth : 0", sel)

    ecg = tmp_path / "ecg.jpg"
    ecg.write_bytes(ecg_bytes)
    before = page.last_id()
    page.css("#photo-input")[0].send_keys(str(ecg))
    preview = page.until(
        lambda: next((m["id"] for m in page.messages() if m["from"] == "bot" and m["id"] > before
                      and "analysed" in m["text"]), None), "no preview of the uploaded ECG")
    sel = f'#messages .msg[data-message-id="{preview}"]'
    page.until(lambda: img_width(sel + " img.photo") > 0, "the preview photo is not shown")
    buttons = {b.text: b for b in page.css(sel + " .keyboard button")}
    assert {"Confirm", "Cancel"} <= set(buttons), list(buttons)
    buttons["Confirm"].click()

    # the preview is the progress display: its caption "⏳ Downloading…", edited on to "✅ … Analysed" after
    # the result and the heat map
    page.until(lambda: not page.css(sel + " .keyboard button"), "Confirm/Cancel should be gone after confirming")
    result = page.bot_text_after(preview, "Uncertain" if expected.uncertain else "confidence")
    headline = page.css(f'#messages .msg[data-message-id="{result}"] .text b')[0].text
    assert headline == ("Uncertain" if expected.uncertain else expected.display_name)
    assert page.css(f'#messages .msg[data-message-id="{result}"] .text pre'), "the chart is preformatted"
    heat = page.bot_text_after(result, "Heat map")
    page.until(lambda: img_width(f'#messages .msg[data-message-id="{heat}"] img.photo') > 0,
               "the heat map is not shown inline")
    page.until(lambda: "Analysed" in page.css(sel)[0].text, "the progress caption did not reach ✅ Analysed")
    assert "edited" in page.css(sel)[0].text and len(page.css(sel)) == 1, "progress is edited in place"
    page.assert_no_errors()


async def _signed_up(sandbox, user, email=EMAIL):
    """register → activate → login through the emulator's user API (the page takes over after)."""
    import re

    from bot.embedded import message_text

    steps = [("/register", "username"), ("alice", "email"), (email, "password"), (PASSWORD, "confirm"),
             (PASSWORD, "medical student or a healthcare professional")]
    for text, expect in steps:
        await user.send_text(text)
        await user.wait_for_text(expect)
    await user.press("Medical student")
    await user.wait_for_text("Account created")
    mail = await sandbox.runtime.outbox.wait_for_message(email, timeout=10)
    token = re.search(r"\?start=([A-Za-z0-9_-]+)", message_text(mail)).group(1)
    await user.open_deep_link(token)
    await user.wait_for_text("is active")
    for text, expect in (("/login", "email"), (email, "password"), (PASSWORD, "Welcome")):
        await user.send_text(text)
        await user.wait_for_text(expect)


@pytest.mark.skipif(not SHARED_ECGS.is_dir(), reason=f"ECG images not available at {SHARED_ECGS}")
async def test_upload_confirm_progress_result_in_chromium(browser_available, sandbox, tmp_path):
    """A real ECG from ../shared through the real model, shown in the page."""
    from inference.analysis import classify

    ecg = sorted(SHARED_ECGS.rglob("*.jpg"))[0].read_bytes()
    expected = classify(ecg)
    assert expected.is_ecg, expected.reason
    await _signed_up(sandbox, sandbox.emulator.user(1001))
    driver = await asyncio.to_thread(chromium_driver, tmp_path / "chromium-profile")
    try:
        await asyncio.to_thread(drive_upload_confirm_result, driver, sandbox.page_url, tmp_path, ecg, expected)
    finally:
        await asyncio.to_thread(driver.quit)
