"""The Conversations API, plus the Foundry-only listing filtered by ``agent_name``.

Deleting a conversation leaves its container alone: the service does not tie them together,
so a client has to delete containers itself.
"""

from __future__ import annotations

from aiohttp import web

from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.errors import bad_request, not_found
from bot.emulators.foundry.ids import new_id
from bot.emulators.foundry.items import MAX_ITEMS_PER_CALL, input_items
from bot.emulators.foundry.paging import page
from bot.emulators.foundry.routing import RouteTable
from bot.emulators.foundry.state import Conversation, EmulatorState, Json
from bot.emulators.foundry.wire import metadata, ok, read_json


def _items(body: Json) -> list[Json]:
    raw = body.get("items")
    if raw is not None and (not isinstance(raw, list) or len(raw) > MAX_ITEMS_PER_CALL):
        raise bad_request(f"items must be an array of at most {MAX_ITEMS_PER_CALL} items.", param="items")
    return input_items(raw, "items")


def _item_key(item: Json) -> str:
    return str(item["id"])


def _same(item: Json) -> Json:
    return item


class ConversationRoutes:
    """Create, read, update, list and delete conversations and their items."""

    def __init__(self, state: EmulatorState, config: EmulatorConfig) -> None:
        self._state = state
        self._config = config

    def register(self, table: RouteTable) -> None:
        table.add("POST", "/openai/v1/conversations", "conversations.create", self.create)
        table.add("GET", "/openai/v1/conversations", "conversations.list", self.list_all)
        one = "/openai/v1/conversations/{conversation_id}"
        table.add("GET", one, "conversations.get", self.get)
        table.add("POST", one, "conversations.update", self.update)
        table.add("DELETE", one, "conversations.delete", self.delete)
        table.add("POST", one + "/items", "conversations.items.create", self.add_items)
        table.add("GET", one + "/items", "conversations.items.list", self.list_items)

    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request, optional=True)
        conversation = Conversation(new_id("conv_", 40), self._config.now(), metadata(body.get("metadata")))
        conversation.items.extend(_items(body))
        self._state.conversations[conversation.id] = conversation
        return ok(conversation.to_json())

    async def list_all(self, request: web.Request) -> web.Response:
        agent_name = request.query.get("agent_name")
        found = [c for c in self._state.conversations.values() if agent_name is None or agent_name in c.agent_names]
        return ok(page(found, request.query, key=lambda c: c.id, render=Conversation.to_json))

    async def get(self, request: web.Request) -> web.Response:
        return ok(self._conversation(request).to_json())

    async def update(self, request: web.Request) -> web.Response:
        """Replace the metadata (the only field an update may change)."""
        conversation = self._conversation(request)
        body = await read_json(request)
        if "metadata" not in body:
            raise bad_request("Missing required parameter: 'metadata'.", param="metadata")
        conversation.metadata = metadata(body["metadata"])
        return ok(conversation.to_json())

    async def delete(self, request: web.Request) -> web.Response:
        conversation = self._conversation(request)
        del self._state.conversations[conversation.id]
        return ok({"id": conversation.id, "object": "conversation.deleted", "deleted": True})

    async def add_items(self, request: web.Request) -> web.Response:
        conversation = self._conversation(request)
        added = _items(await read_json(request))
        conversation.items.extend(added)
        return ok(
            {
                "object": "list",
                "data": added,
                "first_id": added[0]["id"] if added else None,
                "last_id": added[-1]["id"] if added else None,
                "has_more": False,
            }
        )

    async def list_items(self, request: web.Request) -> web.Response:
        conversation = self._conversation(request)
        return ok(page(conversation.items, request.query, key=_item_key, render=_same))

    def _conversation(self, request: web.Request) -> Conversation:
        conversation_id = request.match_info["conversation_id"]
        conversation = self._state.conversations.get(conversation_id)
        if conversation is None:
            raise not_found("Conversation", conversation_id)
        return conversation
