"""`ecg-bot sandbox` without a browser: its HTTP API, the WebSocket's live events, the mailbox,
file serving, and the command line (one URL line on stdout, clean stop on Ctrl+C)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from bot.cli import NO_TOKEN, main as cli_main
from bot.config import Settings
from bot.embedded import free_port
from bot.sandbox.server import STATIC_DIR, start_sandbox

PASSWORD = "Str0ng!pass"


@pytest.fixture
async def http(sandbox):
    async with aiohttp.ClientSession(base_url=sandbox.url, timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def post(http, path, body):
    async with http.post(path, json=body) as resp:
        return resp.status, await resp.json()


async def next_event(ws, predicate, timeout=10.0, skipped=None):
    """The next WebSocket event matching predicate (others are skipped, and kept in `skipped` if given)."""
    async def read():
        while True:
            msg = await ws.receive_json()
            if msg["type"] == "event" and predicate(msg["event"]):
                return msg["event"]
            if skipped is not None:
                skipped.append(msg)
    return await asyncio.wait_for(read(), timeout)


def png_bytes(width=64, height=48) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


async def test_page_and_static_files_are_local(http):
    async with http.get("/") as resp:
        assert resp.status == 200
        html = await resp.text()
    assert "/sandbox/static/sandbox.js" in html and "/sandbox/static/sandbox.css" in html
    for name in ("sandbox.js", "sandbox.css"):
        async with http.get(f"/sandbox/static/{name}") as resp:
            assert resp.status == 200
    # nothing is loaded from the internet: no external URL in the page or the stylesheet
    for path in (STATIC_DIR / "index.html", STATIC_DIR / "sandbox.css"):
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//|url\(\s*[\"']?(?:https?:)?//|@import",
                             path.read_text()), path


async def test_state_users_and_commands(sandbox, http):
    async with http.get("/sandbox/api/state") as resp:
        state = await resp.json()
    assert state["bot"]["username"] == sandbox.emulator.bot_username
    assert [u["first_name"] for u in state["users"]] == ["Alice", "Bob"]
    assert state["mailbox"] is True

    status, added = await post(http, "/sandbox/api/users", {"first_name": "  Carol  "})
    assert status == 200 and added["user"]["first_name"] == "Carol"
    carol = added["user"]["id"]
    assert carol not in (1001, 1002)
    # the users list survives a restart (same Telegram ids, so accounts stay linked)
    saved = json.loads((sandbox.settings.data_dir / "sandbox" / "users.json").read_text())
    assert [u["first_name"] for u in saved] == ["Alice", "Bob", "Carol"]

    async with http.get(f"/sandbox/api/users/{carol}/chat") as resp:
        chat = await resp.json()
    assert chat["messages"] == []
    assert {"register", "login", "logout"} <= {c["command"] for c in chat["commands"]}
    async with http.get("/sandbox/api/users/999999/chat") as resp:
        assert resp.status == 404


async def test_live_events_register_flow_and_mail_deep_link(sandbox, http):
    async with http.ws_connect("/sandbox/ws") as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello" and hello["state"]["users"][0]["id"] == 1001

        status, sent = await post(http, "/sandbox/api/users/1001/text", {"text": "/register"})
        assert status == 200 and sent["message"]["text"] == "/register"
        reply = await next_event(ws, lambda e: e["type"] == "message" and e["message"]["from_bot"])
        assert reply["chat_id"] == 1001 and "username" in reply["message"]["text"]
        assert any(e["type"] == "bold" for e in reply["message"]["entities"])  # HTML arrives as entities

        for text, expect in (("alice", "email"), ("alice@example.com", "password")):
            await post(http, "/sandbox/api/users/1001/text", {"text": text})
            await next_event(ws, lambda e: e["type"] == "message" and e["message"]["from_bot"]
                             and expect in e["message"]["text"])
        # the password: the page hears that the bot deleted it
        _, sent = await post(http, "/sandbox/api/users/1001/text", {"text": PASSWORD})
        deleted = await next_event(ws, lambda e: e["type"] == "deleted")
        assert deleted["message"]["message_id"] == sent["message"]["message_id"]
        assert deleted["message"]["deleted"] is True
        await post(http, "/sandbox/api/users/1001/text", {"text": PASSWORD})
        prompt = await next_event(ws, lambda e: e["type"] == "message" and e["message"]["reply_markup"])
        button = next(b for row in prompt["message"]["reply_markup"]["inline_keyboard"] for b in row
                      if b["text"] == "Medical student")

        status, pressed = await post(http, "/sandbox/api/users/1001/press",
                                     {"message_id": prompt["message"]["message_id"],
                                      "data": button["callback_data"]})
        assert status == 200 and pressed["callback_query_id"]
        await next_event(ws, lambda e: e["type"] == "callback_answered")
        skipped: list = []  # the mail is sent from the outbox concurrently: its note may come before the reply
        await next_event(ws, lambda e: e["type"] == "message" and "Account created" in (e["message"]["text"] or ""),
                         skipped=skipped)

        # the outbox's mail reaches the page as a "mail" notification, then the mailbox API lists it
        async def mail_note():
            for msg in skipped:
                if msg["type"] == "mail":
                    return msg
            while True:
                msg = await ws.receive_json()
                if msg["type"] == "mail":
                    return msg
        assert (await asyncio.wait_for(mail_note(), 10))["count"] == 1
        async with http.get("/sandbox/api/mail") as resp:
            box = await resp.json()
        [mail] = box["mails"]
        assert "alice@example.com" in mail["to"] and mail["subject"]
        assert mail["user_id"] == 1001, "the mail belongs to the user who typed that address"
        [payload] = mail["start_payloads"]
        assert f"https://t.me/{sandbox.emulator.bot_username}?start={payload}" in mail["text"]

        status, opened = await post(http, "/sandbox/api/users/1001/start", {"payload": payload})
        assert status == 200 and opened["message"]["text"] == f"/start {payload}"
        await next_event(ws, lambda e: e["type"] == "message" and "is active" in (e["message"]["text"] or ""))

        # a reset code is readable in the mailbox (newest mail first)
        await post(http, "/sandbox/api/users/1001/text", {"text": "/forgot"})
        await next_event(ws, lambda e: e["type"] == "message" and "email" in (e["message"]["text"] or ""))
        await post(http, "/sandbox/api/users/1001/text", {"text": "alice@example.com"})
        for _ in range(50):
            async with http.get("/sandbox/api/mail") as resp:
                mails = (await resp.json())["mails"]
            if len(mails) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(mails) == 2 and mails[1]["id"] == mail["id"], "newest first"
        [code] = mails[0]["codes"]
        assert re.fullmatch(r"\d{6}", code) and code in mails[0]["text"]
        assert mails[0]["user_id"] == 1001

        # the operator's grant-instructor, in-process
        status, granted = await post(http, "/sandbox/api/instructor", {"email": "ALICE@example.com", "grant": True})
        assert status == 200 and granted["username"] == "alice" and granted["is_instructor"] is True
        user = await sandbox.runtime.services.accounts.get_user_by_email("alice@example.com")
        assert user.is_instructor
        status, _ = await post(http, "/sandbox/api/instructor", {"email": "nobody@example.com"})
        assert status == 404

        status, err = await post(http, "/sandbox/api/users/1001/start", {"payload": "no spaces allowed"})
        assert status == 400 and err["ok"] is False
        status, err = await post(http, "/sandbox/api/users/1001/press", {"message_id": 9999, "data": "x"})
        assert status == 404
        status, err = await post(http, "/sandbox/api/users/1001/text", {"text": "   "})
        assert status == 400


async def test_uploads_and_file_serving(sandbox, http):
    image = png_bytes()
    form = aiohttp.FormData()
    form.add_field("as", "photo")
    form.add_field("file", image, filename="ecg.png", content_type="image/png")
    async with http.post("/sandbox/api/users/1002/upload", data=form) as resp:
        assert resp.status == 200, await resp.text()
        photo = (await resp.json())["message"]
    assert photo["kind"] == "photo" and photo["photo"], "an uploaded image is sent as a Telegram photo"
    async with http.get(f"/sandbox/file/{photo['photo'][-1]['file_id']}") as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"  # re-encoded like Telegram does
        assert (await resp.read())[:2] == b"\xff\xd8"

    form = aiohttp.FormData()
    form.add_field("as", "document")
    form.add_field("caption", "my ECG")
    form.add_field("file", image, filename="ecg.png", content_type="image/png")
    async with http.post("/sandbox/api/users/1002/upload", data=form) as resp:
        doc = (await resp.json())["message"]
    assert doc["kind"] == "document" and doc["document"]["file_name"] == "ecg.png"
    assert doc["caption"] == "my ECG"
    async with http.get(f"/sandbox/file/{doc['document']['file_id']}") as resp:
        assert await resp.read() == image, "a file sent as a document keeps its bytes"

    form = aiohttp.FormData()
    form.add_field("as", "document")
    form.add_field("file", b"%PDF-1.4 test", filename="report.pdf", content_type="application/pdf")
    async with http.post("/sandbox/api/users/1002/upload", data=form) as resp:
        pdf = (await resp.json())["message"]
    async with http.get(f"/sandbox/file/{pdf['document']['file_id']}") as resp:
        assert "attachment" in resp.headers["Content-Disposition"]

    form = aiohttp.FormData()
    form.add_field("as", "photo")
    form.add_field("file", b"not an image", filename="x.png", content_type="image/png")
    async with http.post("/sandbox/api/users/1002/upload", data=form) as resp:
        assert resp.status == 400
    async with http.get("/sandbox/file/nope") as resp:
        assert resp.status == 404


def test_cli_mentions_the_sandbox():
    assert "ecg-bot sandbox" in NO_TOKEN
    with pytest.raises(SystemExit) as exc:
        cli_main(["sandbox", "--help"])
    assert exc.value.code == 0


def test_ecg_bot_sandbox_prints_one_url_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "MONGODB_URI", "SMTP_HOST", "DATA_DIR")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
         "sandbox", "--ephemeral", "--no-model", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        line = proc.stdout.readline()
        assert line == f"http://127.0.0.1:{port}/\n", proc.stderr.read() if not line else line
        assert list(tmp_path.glob("ecg-sandbox-*")), "--ephemeral keeps the data in a temporary directory"
        assert not (tmp_path / "var").exists()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == "", "stdout carries only the URL line; logs go to stderr"
    assert not list(Path(tmp_path).glob("ecg-sandbox-*")), "the temporary data is removed on exit"


async def test_chats_users_and_files_survive_a_restart(tmp_path, cheap_hashing):
    settings = Settings(data_dir=tmp_path / "data", jwt_secret="sandbox-test-" + uuid.uuid4().hex)
    sb = await start_sandbox(settings, "127.0.0.1", free_port(), poll_timeout=1)
    try:
        sb.add_user("Dora")
        alice = sb.emulator.user(1001)
        await alice.send_text("/start")
        await alice.wait_for_text("ECG Analyzer")
        photo = await alice.send_photo(png_bytes(200, 150))
        before = [(m.message_id, m.from_bot, m.content) for m in alice.history()]
        file_id = photo.photo[-1]["file_id"]
    finally:
        await sb.stop()

    sb = await start_sandbox(settings, "127.0.0.1", free_port(), poll_timeout=1)
    try:
        async with aiohttp.ClientSession(base_url=sb.url) as http:
            async with http.get("/sandbox/api/state") as resp:
                names = [u["first_name"] for u in (await resp.json())["users"]]
            assert names == ["Alice", "Bob", "Dora"]
            async with http.get("/sandbox/api/users/1001/chat") as resp:
                chat = await resp.json()
            got = [(m["message_id"], m["from_bot"], m["text"] or m["caption"] or "") for m in chat["messages"]]
            assert got[:len(before)] == before, "the chat is as it was"
            async with http.get(f"/sandbox/file/{file_id}") as resp:
                assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"
        alice = sb.emulator.user(1001)
        again = await alice.send_text("/start")
        assert again.message_id > max(i for i, _, _ in before), "message ids continue"
        await alice.wait_for_text("ECG Analyzer")
    finally:
        await sb.stop()
