"""Generating one response as its own task, publishing stream events as it goes.

The task is independent of the HTTP request that started it: a stream reader that goes away
does not stop it, ``GET /responses/{id}`` sees it ``in_progress``, and ``cancel`` stops it (and
kills the kernel running its cell, so the conversation's next cell starts a fresh one). The
Responses API documents no terminal stream event for a cancelled response, so a stream simply
ends after a cancel; retrieving the response shows ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from dataclasses import dataclass

from bot.emulators.foundry import model
from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.faults import Fault
from bot.emulators.foundry.ids import new_id
from bot.emulators.foundry.sandbox import Sandboxes
from bot.emulators.foundry.state import Container, Conversation, Json, ResponseRecord, StoredFile

log = logging.getLogger(__name__)
RUNNING = ("queued", "in_progress")


@dataclass(frozen=True)
class Turn:
    """Everything a response needs once the request has been validated."""

    conversation: Conversation | None
    items: list[Json]
    prompt: str
    instructions: str
    files: list[StoredFile]
    code_interpreter: bool
    include_outputs: bool
    fault: Fault | None = None


def _snapshot(record: ResponseRecord) -> Json:
    return copy.deepcopy(record.body)


class Generator:
    """Starts, runs and cancels response tasks."""

    def __init__(self, config: EmulatorConfig, sandboxes: Sandboxes) -> None:
        self._config = config
        self._sandboxes = sandboxes

    def start(self, record: ResponseRecord, turn: Turn) -> None:
        record.task = asyncio.create_task(self._generate(record, turn), name=f"foundry-emulator {record.id}")

    async def cancel(self, record: ResponseRecord) -> None:
        """Stop a running response; it ends ``cancelled``."""
        if record.task is not None and not record.task.done():
            record.task.cancel()
            await asyncio.wait([record.task])
        if record.status in RUNNING:
            record.body["status"] = "cancelled"
        await record.finish()

    async def _generate(self, record: ResponseRecord, turn: Turn) -> None:
        try:
            await record.publish("response.created", response=_snapshot(record))
            await record.publish("response.in_progress", response=_snapshot(record))
            if turn.fault is not None:
                await self._inject(record, turn.fault)
                return
            if self._config.model_delay_s:
                await asyncio.sleep(self._config.model_delay_s)
            lock = turn.conversation.lock if turn.conversation is not None else contextlib.nullcontext()
            async with lock:
                output_text = await self._respond(record, turn)
            record.body.update(
                status="completed",
                completed_at=self._config.now(),
                usage=model.usage(f"{turn.instructions}\n{turn.prompt}", output_text),
            )
            if turn.conversation is not None:
                turn.conversation.items.extend(copy.deepcopy(record.body["output"]))
            await record.publish("response.completed", response=_snapshot(record))
        except asyncio.CancelledError:
            record.body["status"] = "cancelled"
            raise
        except Exception:
            log.exception("the emulator failed while generating %s", record.id)
            await self._fail(record, "server_error", "The emulator failed while generating the response.")
        finally:
            await record.finish()

    async def _inject(self, record: ResponseRecord, fault: Fault) -> None:
        code = fault.code or "server_error"
        message = fault.message or "The model failed to produce a response. Please retry."
        if fault.kind == "stream_error":
            record.body.update(status="failed", error={"code": code, "message": message})
            await record.publish("error", code=code, message=message, param=None)
        else:
            await self._fail(record, code, message)

    async def _fail(self, record: ResponseRecord, code: str, message: str) -> None:
        record.body.update(status="failed", error={"code": code, "message": message})
        await record.publish("response.failed", response=_snapshot(record))

    async def _respond(self, record: ResponseRecord, turn: Turn) -> str:
        """Run the planned cells, then write the message; returns all the text the model 'wrote'."""
        plan = model.plan(turn.prompt, code_interpreter=turn.code_interpreter)
        if not plan.cells:
            text, annotations = model.cite_foreign(turn.prompt, plan.reply, [])
            await self._message(record, text, annotations)
            return text
        container = await self._sandboxes.for_turn(turn.conversation, turn.files)
        cells = [await self._cell(record, container, code, turn.include_outputs) for code in plan.cells]
        text, annotations = model.answer(cells, container.id, model.cite_style(turn.prompt))
        text, annotations = model.cite_foreign(turn.prompt, text, annotations)
        await self._message(record, text, annotations)
        return "\n".join([*plan.cells, text])

    async def _cell(self, record: ResponseRecord, container: Container, code: str, include: bool) -> model.Cell:
        item: Json = {
            "type": "code_interpreter_call",
            "id": new_id("ci_", 40),
            "status": "in_progress",
            "container_id": container.id,
            "code": "",
            "outputs": None,
        }
        where = {"output_index": len(record.body["output"]), "item_id": item["id"]}
        record.body["output"].append(item)
        await record.publish("response.output_item.added", output_index=where["output_index"], item=dict(item))
        await record.publish("response.code_interpreter_call.in_progress", **where)
        for piece in model.chunks(code, 80):
            item["code"] += piece
            await record.publish("response.code_interpreter_call_code.delta", delta=piece, **where)
        await record.publish("response.code_interpreter_call_code.done", code=code, **where)
        item["status"] = "interpreting"
        await record.publish("response.code_interpreter_call.interpreting", **where)
        result, files = await self._sandboxes.run(container, code)
        item["status"] = "failed" if result.timed_out else "completed"
        if include:
            item["outputs"] = [{"type": "logs", "logs": result.logs}]
        await record.publish("response.code_interpreter_call.completed", **where)
        await record.publish("response.output_item.done", output_index=where["output_index"], item=copy.deepcopy(item))
        return model.Cell(code, result, files)

    async def _message(self, record: ResponseRecord, text: str, annotations: list[Json]) -> None:
        item: Json = {"type": "message", "id": new_id("msg_", 40), "role": "assistant", "status": "in_progress"}
        item["content"] = []
        index = len(record.body["output"])
        record.body["output"].append(item)
        where = {"output_index": index, "item_id": item["id"], "content_index": 0}
        await record.publish("response.output_item.added", output_index=index, item=copy.deepcopy(item))
        part: Json = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        item["content"].append(part)
        await record.publish("response.content_part.added", part=dict(part, annotations=[]), **where)
        for piece in model.chunks(text):
            part["text"] += piece
            await record.publish("response.output_text.delta", delta=piece, logprobs=[], **where)
        for number, annotation in enumerate(annotations):
            part["annotations"].append(annotation)
            await record.publish(
                "response.output_text.annotation.added", annotation=annotation, annotation_index=number, **where
            )
        await record.publish("response.output_text.done", text=text, logprobs=[], **where)
        await record.publish("response.content_part.done", part=copy.deepcopy(part), **where)
        item["status"] = "completed"
        await record.publish("response.output_item.done", output_index=index, item=copy.deepcopy(item))
