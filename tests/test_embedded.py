"""bot.embedded: the nx-27017 child process and the aiosmtpd outbox, for real."""

from __future__ import annotations

import socket

import pytest

from accounts.mailer import SmtpMailer
from storage.mongo import connect
from bot.embedded import EmbeddedMongo, EmbeddedMongoError, EmbeddedOutbox, message_text


async def test_embedded_mongo_start_persist_stop(tmp_path):
    data = tmp_path / "mongo"
    mongo = EmbeddedMongo(data)
    uri = await mongo.start()
    assert uri.startswith("mongodb://127.0.0.1:")
    assert await mongo.start() == uri  # idempotent while running
    client = connect(uri)
    try:
        assert (await client.admin.command("ping"))["ok"] == 1
        await client["ecg_analyzer"].things.insert_one({"_id": 1, "v": "kept"})
    finally:
        await client.close()
    process = mongo.process
    await mongo.stop()
    assert process.returncode is not None
    await mongo.stop()  # twice is fine
    assert (data / "ecg_analyzer.db").exists()  # --data-dir mode: one SQLite file per database

    async with EmbeddedMongo(data) as uri2:  # a restart sees the data
        client = connect(uri2)
        try:
            assert (await client["ecg_analyzer"].things.find_one({"_id": 1}))["v"] == "kept"
        finally:
            await client.close()


async def test_embedded_mongo_clear_error_when_it_cannot_start(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        mongo = EmbeddedMongo(tmp_path / "mongo", port=port, startup_timeout=10)
        with pytest.raises(EmbeddedMongoError) as info:
            await mongo.start()
    assert "nx-27017" in str(info.value)
    assert mongo.process is None


async def test_outbox_saves_eml_files(tmp_path, caplog):
    outbox = EmbeddedOutbox(tmp_path / "outbox")
    caplog.set_level("INFO", logger="bot.embedded")
    async with outbox as (host, port):
        assert host == "127.0.0.1"
        mailer = SmtpMailer(host, port, starttls=False, retries=0)
        await mailer.send("a@example.com", "first", "one", "<p>one</p>")
        await mailer.send("b@example.com", "second", "two", "<p>two</p>")
        msg = await outbox.wait_for_message("b@example.com", timeout=5)
        assert msg["Subject"] == "second"
        assert [m["Subject"] for m in outbox.messages()] == ["first", "second"]  # newest last
        assert message_text(outbox.messages_to("a@example.com")[0]).strip() == "one"
        with pytest.raises(TimeoutError):
            await outbox.wait_for_message("a@example.com", timeout=0.2, count=2)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    assert any(str(files[0]) in r.getMessage() for r in caplog.records)  # the path is logged


async def test_relative_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with EmbeddedMongo("var/mongo") as uri:
        client = connect(uri)
        try:
            await client["ecg_analyzer"].things.insert_one({"_id": 1})
        finally:
            await client.close()
    assert (tmp_path / "var" / "mongo" / "ecg_analyzer.db").exists()


async def test_stale_pid_file_and_orphan_are_handled(tmp_path):
    import os

    try:
        from tests._accounts_fixtures import start_nx
    except ImportError:
        from _accounts_fixtures import start_nx

    data = tmp_path / "mongo"
    data.mkdir()
    # a stale pid file naming a live process that is not nx-27017 (pid reuse): removed, start works
    (data / "nx.pid").write_text(str(os.getpid()))
    async with EmbeddedMongo(data) as uri:
        assert uri
    # an orphaned server of a crashed run on the same data dir: stopped, then a fresh one starts
    orphan, _ = start_nx(data)
    try:
        async with EmbeddedMongo(data, startup_timeout=15) as uri:
            client = connect(uri)
            try:
                assert (await client.admin.command("ping"))["ok"] == 1
            finally:
                await client.close()
        assert orphan.wait(5) is not None
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


async def test_a_second_process_shares_the_running_server_instead_of_killing_it(tmp_path):
    """`ecg-bot grant-instructor` while the bot runs on the same DATA_DIR must not stop its database."""
    import subprocess
    import sys
    import textwrap

    data = tmp_path / "mongo"
    async with EmbeddedMongo(data) as uri:
        script = textwrap.dedent(
            f"""
            import asyncio
            from bot.embedded import EmbeddedMongo
            async def main():
                async with EmbeddedMongo({str(data)!r}) as uri:
                    print(uri)
            asyncio.run(main())
            """
        )
        other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert other.returncode == 0, other.stderr
        assert other.stdout.strip() == uri  # it used ours
        client = connect(uri)
        try:
            assert (await client.admin.command("ping"))["ok"] == 1  # and ours still runs
        finally:
            await client.close()
