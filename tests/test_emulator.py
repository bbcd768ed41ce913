"""End-to-end tests of the Bot API emulator (bot/emulator) with a real PTB Bot and Application."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import pytest
from PIL import Image
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.emulator import BotAPIEmulator, Event, WaitTimeout

TOKEN = "123456:TEST"


@pytest.fixture
async def emu():
    async with BotAPIEmulator(TOKEN, "ecg_analyzer_test_bot") as emulator:
        yield emulator


@pytest.fixture
async def bot(emu):
    async with Bot(emu.token, **emu.ptb_urls()) as ptb_bot:
        yield ptb_bot


def image_bytes(size=(2000, 1000), fmt="PNG", color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=label.lower())] for label in labels])


async def raw(emu, method, token=TOKEN, **params):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emu.url}/bot{token}/{method}", json=params) as resp:
            return resp.status, await resp.json()


# ------------------------------------------------------------------ basics and HTTP shapes
async def test_get_me_and_telegram_shaped_errors(emu, bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "ecg_analyzer_test_bot", True)

    status, body = await raw(emu, "getMe", token="999:WRONG")
    assert status == 401 and body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", **emu.ptb_urls()) as wrong:
            await wrong.get_me()

    status, body = await raw(emu, "sendTelepathy")
    assert status == 404 and body == {"ok": False, "error_code": 404, "description": "Not Found"}

    status, body = await raw(emu, "sendMessage", chat_id=4242, text="hi")
    assert status == 400 and body["description"] == "Bad Request: chat not found"

    # the same call as form-urlencoded (what PTB sends) and as a GET query string
    alice = emu.user(1001)
    await alice.send_text("hi")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emu.url}/bot{TOKEN}/sendMessage",
                                data={"chat_id": "1001", "text": "form",
                                      "reply_markup": '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'}) as resp:
            body = await resp.json()
            assert body["ok"] and body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"
        async with session.get(f"{emu.url}/bot{TOKEN}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "ecg_analyzer_test_bot"


async def test_send_message_reaches_the_user_with_markup(emu, bot):
    alice = emu.user(1001, "Alice", username="alice")
    await alice.send_text("/start")
    sent = await bot.send_message(1001, "<b>Welcome</b>, pick one", parse_mode="HTML",
                                  reply_markup=keyboard("Medical student", "Healthcare professional"))
    msg = await alice.wait_for_text("Welcome")
    assert msg.message_id == sent.message_id and msg.from_bot
    assert msg.text == "Welcome, pick one" and msg.raw_text.startswith("<b>") and msg.parse_mode == "HTML"
    assert msg.entities == [{"offset": 0, "length": 7, "type": "bold"}]
    assert msg.buttons == [[("Medical student", "medical student")],
                           [("Healthcare professional", "healthcare professional")]]
    assert sent.entities[0].type == "bold" and sent.text == "Welcome, pick one"
    # reply keyboards are kept per chat; ReplyKeyboardRemove removes them
    await bot.send_message(1001, "choose", reply_markup=ReplyKeyboardMarkup([["One", "Two"]]))
    assert (await alice.wait_for()).buttons == [] and alice.reply_keyboard["keyboard"][0][1]["text"] == "Two"
    await bot.send_message(1001, "plain", reply_markup=ReplyKeyboardRemove())
    assert (await alice.wait_for()).text == "plain"
    assert alice.reply_keyboard is None
    assert [m.from_bot for m in alice.history()] == [False, True, True, True]
    snap = alice.snapshot()
    assert snap["user"]["username"] == "alice" and snap["messages"][1]["text"] == "Welcome, pick one"
    assert alice.last_bot_message().text == "plain"


async def test_commands_deep_links_and_non_text_updates(emu, bot):
    alice = emu.user(1001)
    await alice.send_text("/start")
    await alice.open_deep_link("tok_EN-123")
    await alice.send_text("just text")
    await alice.send_sticker()
    updates = await bot.get_updates(timeout=0)
    messages = [u.message for u in updates]
    assert [u.update_id for u in updates] == sorted(u.update_id for u in updates)
    assert messages[0].text == "/start" and messages[0].entities[0].type == "bot_command"
    assert messages[1].text == "/start tok_EN-123" and messages[1].entities[0].length == len("/start")
    assert messages[2].entities == ()
    assert messages[3].sticker is not None and messages[3].text is None
    assert messages[0].chat.id == 1001 == messages[0].from_user.id and messages[0].chat.type == "private"


async def test_get_updates_long_polling_offset_limit_and_conflict(emu, bot):
    alice = emu.user(1001)
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await alice.send_text("wake up")
    updates = await asyncio.wait_for(poll, 3)
    assert loop.time() - started < 2 and updates[0].message.text == "wake up"

    # empty long poll waits for the timeout
    for i in range(3):
        await alice.send_text(f"m{i}")
    got = await bot.get_updates(offset=updates[-1].update_id + 1, limit=2, timeout=0)
    assert [u.message.text for u in got] == ["m0", "m1"]
    got = await bot.get_updates(offset=got[-1].update_id + 1, timeout=0)
    assert [u.message.text for u in got] == ["m2"]
    t0 = loop.time()
    assert await bot.get_updates(offset=got[-1].update_id + 1, timeout=1) == ()
    assert loop.time() - t0 >= 0.9

    # allowed_updates filters, and a newer poll terminates an older one with 409
    await bot.send_message(1001, "k", reply_markup=keyboard("X"))
    await alice.press("X")
    await alice.send_text("text")
    got = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in got] == ["x"]
    older = asyncio.create_task(bot.get_updates(offset=got[-1].update_id + 1, timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(emu.token, **emu.ptb_urls()) as second_instance:
        await second_instance.get_updates(offset=got[-1].update_id + 1, timeout=0)
    with pytest.raises(Conflict):
        await older


# ------------------------------------------------------------------ edits, deletes, errors
async def test_edit_delete_and_their_errors(emu, bot):
    alice = emu.user(1001)
    await alice.send_text("hello")
    m = await bot.send_message(1001, "Working…", reply_markup=keyboard("Stop"))
    await alice.wait_for()
    await bot.edit_message_text("Working… 50%", chat_id=1001, message_id=m.message_id, reply_markup=keyboard("Stop"))
    edited = await alice.wait_for_edit(m.message_id)
    assert edited.text == "Working… 50%" and edited.edits[0].text == "Working…" and edited.button_texts == ["Stop"]

    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Working… 50%", chat_id=1001, message_id=m.message_id,
                                    reply_markup=keyboard("Stop"))
    # editMessageText without reply_markup drops the inline keyboard, as Telegram does
    task = asyncio.create_task(alice.wait_for_edit(m.message_id, lambda msg: "Done" in msg.text))
    await bot.edit_message_text("Done", chat_id=1001, message_id=m.message_id)
    done = await task
    assert done.buttons == [] and len(done.edit_history) == 2

    await bot.edit_message_reply_markup(1001, m.message_id, reply_markup=keyboard("Again"))
    assert (await alice.wait_for_edit(m.message_id)).button_texts == ["Again"]
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=1001, message_id=999)
    with pytest.raises(BadRequest, match="(?i)message can't be edited"):
        await bot.edit_message_text("x", chat_id=1001, message_id=1)  # the user's message
    with pytest.raises(BadRequest, match="(?i)there is no caption"):
        await bot.edit_message_caption(1001, m.message_id, caption="c")

    # the bot deletes the user's password message and its own
    assert await bot.delete_message(1001, 1)
    await alice.wait_for_deletion(1)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(1001, 1)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=1001, message_id=1)
    extra = await bot.send_message(1001, "extra")
    assert await bot.delete_messages(1001, [m.message_id, extra.message_id, 12345])
    history = alice.history()
    assert [h.deleted for h in history] == [True, True, True]
    assert alice.last_bot_message() is None


async def test_validation_errors(emu, bot):
    alice = emu.user(1001)
    with pytest.raises(Forbidden, match="(?i)can't initiate conversation"):
        await bot.send_message(1001, "before /start")
    await alice.send_text("/start")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(777, "nobody")
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(1001, "")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(1001, "x" * 4097)
    await bot.send_message(1001, "y" * 4096)
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(1001, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(1001, "1 < 2", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)reserved and must be escaped"):
        await bot.send_message(1001, "Done.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "k", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("long", callback_data="x" * 65)]]))
    status, body = await raw(emu, "sendMessage", chat_id=1001, text="k",
                             reply_markup={"inline_keyboard": [[{"text": "empty", "callback_data": ""}]]})
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    with pytest.raises(BadRequest, match="(?i)message caption is too long"):
        await bot.send_photo(1001, image_bytes((50, 50)), caption="c" * 1025)
    with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
        await bot.send_chat_action(1001, "dancing")
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query("nope")
    alice.block()
    with pytest.raises(Forbidden, match="(?i)blocked by the user"):
        await bot.send_message(1001, "hi")
    # only the valid sends reached the chat
    assert [m.content[:1] for m in alice.bot_messages()] == ["y"]


# ------------------------------------------------------------------ files
async def test_user_photo_becomes_photo_sizes_the_bot_can_download(emu, bot):
    alice = emu.user(1001)
    original = image_bytes((2000, 1000), "PNG")
    sent = await alice.send_photo(original, caption="my ecg")
    assert sent.original_bytes == original
    (update,) = await bot.get_updates(timeout=0)
    photo = update.message.photo
    assert [(p.width, p.height) for p in photo] == [(90, 45), (320, 160), (800, 400), (1280, 640)]
    assert update.message.caption == "my ecg"
    assert all(p.file_size and p.file_id and p.file_unique_id for p in photo)
    tg_file = await bot.get_file(photo[-1].file_id)
    data = bytes(await tg_file.download_as_bytearray())
    assert data == sent.photo_bytes and data[:3] == b"\xff\xd8\xff"  # JPEG
    assert Image.open(io.BytesIO(data)).size == (1280, 640)

    small = await alice.send_photo(image_bytes((300, 200)))
    assert [(p["width"], p["height"]) for p in small.photo] == [(90, 60), (300, 200)]
    with pytest.raises(ValueError):
        await alice.send_photo(b"not an image")


async def test_user_document_and_file_limits(emu, bot):
    alice = emu.user(1001)
    payload = b"%PDF-1.4 fake" + bytes(range(256))
    await alice.send_document(payload, "scan.pdf", "application/pdf")
    (update,) = await bot.get_updates(timeout=0)
    doc = update.message.document
    assert (doc.file_name, doc.mime_type, doc.file_size) == ("scan.pdf", "application/pdf", len(payload))
    assert bytes(await (await bot.get_file(doc.file_id)).download_as_bytearray()) == payload

    big = await alice.send_document(b"\0" * (20 * 1024 * 1024 + 1), "big.bin")
    with pytest.raises(BadRequest, match="(?i)file is too big"):
        await bot.get_file(big.document["file_id"])
    with pytest.raises(BadRequest):
        await bot.get_file("no-such-file")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emu.url}/file/bot{TOKEN}/documents/nothing.pdf") as resp:
            assert resp.status == 404


async def test_bot_sends_photo_document_by_upload_and_file_id(emu, bot):
    alice = emu.user(1001)
    await alice.send_text("/start")
    png = image_bytes((1600, 1600), "PNG")
    m = await bot.send_photo(1001, png, caption="<i>result</i>", parse_mode="HTML", reply_markup=keyboard("OK"))
    assert m.photo[-1].width == 1280 and m.caption == "result"
    seen = await alice.wait_for()
    assert seen.kind == "photo" and seen.caption == "result" and seen.button_texts == ["OK"]
    assert Image.open(io.BytesIO(seen.photo_bytes)).size == (1280, 1280)

    again = await bot.send_photo(1001, m.photo[-1].file_id)
    assert again.photo[-1].file_id == m.photo[-1].file_id
    with pytest.raises(BadRequest, match="(?i)failed to get HTTP URL content"):
        await bot.send_photo(1001, "https://example.com/x.jpg")
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_photo(1001, "AgACnonexistent")
    with pytest.raises(BadRequest, match="(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(1001, b"garbage bytes")

    d = await bot.send_document(1001, b"report body", filename="report.txt", caption="report")
    assert d.document.file_name == "report.txt" and d.document.mime_type == "text/plain"
    doc_msg = await alice.wait_for(lambda x: x.kind == "document")
    assert doc_msg.document_bytes == b"report body" and doc_msg.caption == "report"
    edited = await bot.edit_message_caption(1001, d.message_id, caption="final report")
    assert edited.caption == "final report"
    assert (await alice.wait_for_edit(d.message_id)).caption == "final report"

    # progress picture replaced in place, then turned into a document
    await bot.edit_message_media(InputMediaPhoto(image_bytes((64, 32), color=(0, 0, 255)), caption="v2"),
                                 chat_id=1001, message_id=m.message_id)
    replaced = await alice.wait_for_edit(m.message_id)
    assert replaced.caption == "v2" and replaced.photo[-1]["width"] == 64
    assert replaced.edits[-1].file_ids[-1] == m.photo[-1].file_id and replaced.buttons == []
    await bot.edit_message_media(InputMediaDocument(b"csv,data", filename="r.csv"), chat_id=1001,
                                 message_id=m.message_id)
    assert (await alice.wait_for_edit(m.message_id)).document_bytes == b"csv,data"

    group = await bot.send_media_group(1001, [InputMediaPhoto(image_bytes((100, 100))),
                                              InputMediaPhoto(m.photo[-1].file_id, caption="second")])
    assert len(group) == 2 and group[0].media_group_id == group[1].media_group_id
    assert group[1].caption == "second"


async def test_chat_actions_commands_and_events(emu, bot):
    alice = emu.user(1001)
    events = emu.subscribe()
    seen: list[str] = []
    emu.add_listener(lambda e: seen.append(e.type))
    await alice.send_text("/help")
    t0 = time.time()
    assert await bot.send_chat_action(1001, "typing")
    action = await alice.wait_for_action("typing")
    assert action.time >= t0 - 1 and alice.chat_actions[-1].action == "typing"
    m = await bot.send_message(1001, "menu", reply_markup=keyboard("Go"))
    await bot.edit_message_text("menu!", chat_id=1001, message_id=m.message_id)
    await bot.delete_message(1001, m.message_id)

    assert await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert emu.commands()[1] == {"command": "help", "description": "Help"}
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad Command", "x")])
    assert await bot.delete_my_commands() and await bot.get_my_commands() == ()
    assert await bot.set_my_description("desc") and await bot.set_my_short_description("short")
    assert await bot.delete_webhook() and (await bot.get_webhook_info()).url == ""
    assert await bot.set_chat_menu_button() and (await bot.get_chat_menu_button()).type == "commands"
    assert emu.env() == {"TELEGRAM_API_URL": emu.url, "TELEGRAM_BOT_TOKEN": TOKEN}
    chat = await bot.get_chat(1001)
    assert chat.id == 1001 and chat.first_name == "Alice"

    types = []
    while not events.empty():
        event: Event = events.get_nowait()
        types.append(event.type)
        assert event.to_json()["type"] == event.type
    assert types == ["message", "chat_action", "message", "edited", "deleted", "commands", "commands"]
    assert seen == types
    assert [c["action"] for c in emu.calls("sendChatAction")] == ["typing"]


async def test_wait_for_fails_with_the_chat_tail(emu, bot):
    alice = emu.user(1001)
    await alice.send_text("/start")
    await bot.send_message(1001, "something else")
    with pytest.raises(WaitTimeout, match="something else"):
        await alice.wait_for_text("Welcome", timeout=0.2)
    with pytest.raises(LookupError):
        await alice.press("No such button")
    alice.mark_all_read()
    await alice.expect_silence(0.1)
    await bot.send_message(1001, "late")
    with pytest.raises(AssertionError, match="late"):
        await alice.expect_silence(0.1)


@pytest.mark.filterwarnings("ignore:.*retry_after.*")  # PTB's own deprecation notice on RetryAfter
async def test_injected_errors_and_several_emulators(emu, bot):
    emu.inject_error("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    alice = emu.user(1001)
    await alice.send_text("x")
    with pytest.raises(RetryAfter):
        await bot.send_message(1001, "one")
    await bot.send_message(1001, "two")

    other_bot = emu.add_bot("777:OTHER", "other_bot")
    assert other_bot.id == 777
    async with BotAPIEmulator("555:SECOND", "second_bot") as second:
        assert second.url != emu.url
        async with Bot("555:SECOND", **second.ptb_urls()) as b2, Bot("777:OTHER", **emu.ptb_urls()) as b3:
            assert (await b2.get_me()).username == "second_bot"
            assert (await b3.get_me()).username == "other_bot"
            bob = second.user(1001, "Bob")
            await bob.send_text("hello second")
            assert (await b2.get_updates(timeout=0))[0].message.from_user.first_name == "Bob"
            assert await b3.get_updates(timeout=0) == ()
    assert [m.text for m in alice.bot_messages()] == ["two"]


# ------------------------------------------------------------------ a real PTB Application
async def test_application_polling_echo_and_inline_button(emu):
    async def start(update, context):
        await update.message.reply_text(f"start args={context.args}")

    async def echo(update, context):
        await update.message.reply_text(f"echo: {update.message.text}", reply_markup=keyboard("Like"))

    async def on_button(update, context):
        query = update.callback_query
        await query.answer("Thanks!")
        await query.edit_message_text(f"{query.message.text} (liked: {query.data})")

    app = ApplicationBuilder().token(emu.token).base_url(f"{emu.url}/bot").base_file_url(
        f"{emu.url}/file/bot").build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_button))
    alice = emu.user(1001)
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await alice.open_deep_link("abc")
            assert (await alice.wait_for()).text == "start args=['abc']"
            await alice.send_text("ping")
            reply = await alice.wait_for_text("echo: ping")
            assert reply.button_texts == ["Like"]
            query = await alice.press("Like")
            answered = await alice.wait_for_answer(query)
            assert answered.answer_text == "Thanks!"
            edited = await alice.wait_for_edit(reply.message_id)
            assert edited.text == "echo: ping (liked: like)" and edited.buttons == []
        finally:
            await app.updater.stop()
            await app.stop()


async def test_formatting_offsets_press_by_message_and_predicates(emu, bot):
    alice = emu.user(1001)
    await alice.send_text("/start")
    # UTF-16 offsets, like Telegram: the emoji counts as 2
    m = await bot.send_message(1001, "❤️‍🔥 <i>a&amp;b</i> <a href=\"https://t.me/x\">link</a>", parse_mode="HTML")
    assert m.text == "❤️‍🔥 a&b link"
    assert [(e.type, e.offset, e.length) for e in m.entities] == [("italic", 6, 3), ("text_link", 10, 4)]
    ok = await bot.send_message(1001, r"*Bold* _it_ \. [l](https://t.me/x?a=1) `a.b`", parse_mode="MarkdownV2")
    assert ok.text == "Bold it . l a.b"

    first = await bot.send_message(1001, "first", reply_markup=keyboard("Yes", "No"))
    await bot.send_message(1001, "second", reply_markup=keyboard("Yes"))
    # a predicate skips (and consumes) non-matching messages
    second = await alice.wait_for(lambda msg: msg.text == "second")
    assert alice.unread() == []
    q_old = await alice.press("Yes", message_id=first.message_id)
    q_new = await alice.press(second.buttons[0][0])  # the (text, data) tuple works too
    q_data = await alice.press(None, data="no")
    updates = await bot.get_updates(offset=0, timeout=0, allowed_updates=["callback_query"])
    pressed = [(u.callback_query.message.message_id, u.callback_query.data) for u in updates]
    assert pressed == [(first.message_id, "yes"), (second.message_id, "yes"), (first.message_id, "no")]
    assert updates[0].callback_query.id == q_old.id and q_new.id != q_data.id
    assert await bot.answer_callback_query(q_old.id, "Alert!", show_alert=True)
    assert q_old.answered and q_old.show_alert and q_old.answer_text == "Alert!"
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(q_old.id)  # only once

    rgba = io.BytesIO()
    Image.new("RGBA", (100, 400), (0, 0, 0, 0)).save(rgba, "PNG")
    tall = await alice.send_photo(rgba.getvalue())
    assert [(p["width"], p["height"]) for p in tall.photo] == [(22, 90), (80, 320), (100, 400)]


async def test_controllable_clock_and_restart_keeps_state():
    now = [1_700_000_000.0]
    emu = BotAPIEmulator(clock=lambda: now[0])
    url = await emu.start()
    try:
        alice = emu.user(1001)
        sent = await alice.send_text("/start")
        assert sent.date == 1_700_000_000
        now[0] += 3600
        async with Bot(emu.token, **emu.ptb_urls()) as ptb_bot:
            reply = await ptb_bot.send_message(1001, "an hour later")
            assert reply.date.timestamp() == 1_700_003_600
        await emu.stop()
        port = int(url.rsplit(":", 1)[1])
        assert await emu.start(port=port) == url
        async with Bot(emu.token, **emu.ptb_urls()) as ptb_bot:
            (update,) = await ptb_bot.get_updates(timeout=0)
            assert update.message.text == "/start"  # not confirmed before the restart: delivered again
    finally:
        await emu.stop()
