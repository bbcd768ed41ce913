"""Webhook mode (bot/webhook.py): the real bot registers its webhook with the Bot API emulator, takes updates
POSTed to it only with the right secret token, and serves /healthz and /readyz."""

from __future__ import annotations

import dataclasses
import uuid

import aiohttp
import pytest_asyncio

from bot.embedded import free_port
from conftest import BotHarness

SECRET = "webhook-secret-" + "x" * 20


class WebhookHarness(BotHarness):
    async def start_bot(self) -> None:
        self.port = getattr(self, "port", None) or free_port()
        self.settings = dataclasses.replace(
            self.settings, webhook_url=f"http://127.0.0.1:{self.port}/telegram/hook", webhook_secret=SECRET,
            webhook_listen="127.0.0.1", webhook_port=self.port)
        await super().start_bot()


@pytest_asyncio.fixture
async def bot(tmp_path, nx_server, cheap_hashing):
    h = WebhookHarness(tmp_path, f"{nx_server.rstrip('/')}/e2e_{uuid.uuid4().hex[:12]}")
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


def pending_updates(bot) -> list[dict]:
    record = bot.emulator.core.get_bot(bot.emulator.token)
    updates, record.updates[:] = list(record.updates), []
    return updates


async def test_updates_are_taken_only_with_the_secret_token_and_health_is_served(bot):
    core = bot.emulator.core
    assert list(core.webhooks.values()) == [{"url": bot.settings.webhook_url, "secret_token": SECRET}]
    assert not any(r.method == "getUpdates" for r in core.requests)  # no polling in webhook mode
    base = f"http://127.0.0.1:{bot.port}"
    alice = bot.user(1001, "Alice")
    await alice.send_text("/start")
    (update,) = pending_updates(bot)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200 and await response.json() == {"leader": True, "database": True}
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                        {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]}):
            async with http.post(f"{base}/telegram/hook", json=update, headers=headers) as response:
                assert response.status == 403
        await alice.expect_silence(1.0)  # not processed
        async with http.post(f"{base}/telegram/hook", json=update,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            assert response.status == 200
        assert "ECG" in (await alice.wait_for(timeout=15)).text
        await bot.stop_bot()  # a process that is not the leader: not ready, and updates are refused (503)
        bot.runtime = None
        await bot.start_bot()
        runtime = bot.runtime
        await runtime._election.halt()
        await runtime._deactivate()
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503 and (await response.json())["leader"] is False
        async with http.post(f"{base}/telegram/hook", json=update,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            assert response.status == 503


def test_the_deployment_settings_come_from_the_environment_and_their_secrets_are_never_logged():
    from bot.config import Settings

    settings = Settings.from_env({
        "ANALYSIS_BROKER_URL": "redis://:brokerpass9@redis:6379/0", "BOT_LEASE_TTL": "6",
        "WEBHOOK_URL": "https://bot.example.org/hook", "WEBHOOK_SECRET": "hook-secret-77",
        "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": "9000"}, load_dotenv_file=False)
    assert (settings.analysis_broker_url, settings.lease_ttl) == ("redis://:brokerpass9@redis:6379/0", 6.0)
    assert (settings.webhook_url, settings.webhook_listen, settings.webhook_port) == \
        ("https://bot.example.org/hook", "127.0.0.1", 9000)
    assert {"brokerpass9", "hook-secret-77"} <= set(settings.secrets())
    assert "brokerpass9" not in repr(settings) and "hook-secret-77" not in repr(settings)
    defaults = Settings.from_env({}, load_dotenv_file=False)
    assert defaults.analysis_broker_url is None and defaults.webhook_url is None and defaults.lease_ttl == 10.0
