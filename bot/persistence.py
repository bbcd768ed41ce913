"""PTB persistence in MongoDB: conversation states, user data and chat data.

Documents are keyed by bot id plus chat/user, like aiogram's storages, so several bots can share
one database. PTB only calls `update_*` from `Application.update_persistence()`; the bot calls it
after every update (see `handlers.routes.write_through`) so a bot killed mid-conversation resumes at the
same question after a restart.
"""

from __future__ import annotations

import logging
from copy import deepcopy
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from storage.mongo import Database, translate_errors

log = logging.getLogger(__name__)

CONVERSATIONS = "ptb_conversations"
USER_DATA = "ptb_user_data"
CHAT_DATA = "ptb_chat_data"


@translate_errors
class MongoPersistence(BasePersistence[dict, dict, dict]):
    """Stores conversations, user_data and chat_data; bot_data and callback_data stay in memory
    (bot_data holds live service objects, which must never be persisted)."""

    def __init__(self, db: Database, update_interval: float = 5.0) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=True, user_data=True, callback_data=False),
            update_interval=update_interval,
        )
        self.db = db

    @property
    def _bot_id(self) -> int:
        return self.bot.id if self.bot is not None else 0

    # --- conversations ------------------------------------------------------------------------
    async def get_conversations(self, name: str) -> dict:
        result: dict = {}
        async for doc in self.db[CONVERSATIONS].find({"bot_id": self._bot_id, "name": name}):
            result[tuple(doc["key"])] = doc["state"]
        return result

    async def update_conversation(self, name: str, key: tuple, new_state: object | None) -> None:
        doc_id = f"{self._bot_id}:{name}:{':'.join(map(str, key))}"
        if new_state is None:
            await self.db[CONVERSATIONS].delete_one({"_id": doc_id})
            return
        await self.db[CONVERSATIONS].replace_one(
            {"_id": doc_id},
            {"_id": doc_id, "bot_id": self._bot_id, "name": name, "key": list(key), "state": new_state},
            upsert=True,
        )

    # --- user and chat data ---------------------------------------------------------------------
    async def _load(self, collection: str) -> dict[int, dict]:
        result: dict[int, dict] = {}
        async for doc in self.db[collection].find({"bot_id": self._bot_id}):
            result[doc["owner_id"]] = doc.get("data", {})
        return result

    async def _save(self, collection: str, owner_id: int, data: dict) -> None:
        doc_id = f"{self._bot_id}:{owner_id}"
        await self.db[collection].replace_one(
            {"_id": doc_id},
            {"_id": doc_id, "bot_id": self._bot_id, "owner_id": owner_id, "data": deepcopy(data)},
            upsert=True,
        )

    async def _drop(self, collection: str, owner_id: int) -> None:
        await self.db[collection].delete_one({"_id": f"{self._bot_id}:{owner_id}"})

    async def get_user_data(self) -> dict[int, dict]:
        return await self._load(USER_DATA)

    async def get_chat_data(self) -> dict[int, dict]:
        return await self._load(CHAT_DATA)

    async def update_user_data(self, user_id: int, data: dict) -> None:
        await self._save(USER_DATA, user_id, data)

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        await self._save(CHAT_DATA, chat_id, data)

    async def drop_user_data(self, user_id: int) -> None:
        await self._drop(USER_DATA, user_id)

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._drop(CHAT_DATA, chat_id)

    async def refresh_user_data(self, user_id: int, user_data: dict) -> None:
        """Nothing to do: one bot process owns its data."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        """Nothing to do: one bot process owns its data."""

    # --- not stored -----------------------------------------------------------------------------
    async def get_bot_data(self) -> dict:
        return {}

    async def update_bot_data(self, data: dict) -> None:
        """bot_data is not persisted (see class docstring)."""

    async def refresh_bot_data(self, bot_data: dict) -> None:
        """bot_data is not persisted."""

    async def get_callback_data(self) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        """Arbitrary callback data is not used."""

    async def flush(self) -> None:
        """Every write already went to MongoDB."""
