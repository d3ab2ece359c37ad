"""The sandbox: code really runs per conversation, files come back cited, limits and expiry hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bot.emulators.foundry import EmulatorConfig, FoundryEmulator

from .conftest import AGENT, FakeClock, create_agent, message_text, respond, upload

WRITE_REPORT = """```python
import os
with open('/mnt/data/report.txt', 'w') as handle:
    handle.write('total=42')
print('cwd is', os.getcwd())
print('saved', os.path.abspath('/mnt/data/report.txt'))
```"""


def code_calls(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The code_interpreter_call items of a response."""
    return [item for item in response["output"] if item["type"] == "code_interpreter_call"]


async def download(http: httpx.AsyncClient, citation: dict[str, Any]) -> httpx.Response:
    """Fetch a cited container file."""
    return await http.get(f"/openai/v1/containers/{citation['container_id']}/files/{citation['file_id']}/content")


async def test_fenced_python_runs_and_its_file_is_cited(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """A fenced block runs as written; the file it writes is a cited, downloadable assistant file."""
    made = await respond(http, WRITE_REPORT, include=["code_interpreter_call.outputs"])
    [call] = code_calls(made)
    assert call["code"].startswith("import os")
    assert "/mnt/data/report.txt" in call["code"]
    logs = call["outputs"][0]["logs"]
    assert logs == "cwd is /mnt/data\nsaved /mnt/data/report.txt\n"
    text, [citation] = message_text(made)
    assert text[citation["start_index"] : citation["end_index"]] == "sandbox:/mnt/data/report.txt"
    assert "[report.txt](sandbox:/mnt/data/report.txt)" in text
    assert ("report.txt", call["container_id"]) == (citation["filename"], citation["container_id"])
    assert citation["file_id"].startswith("cfile_")
    assert (await download(http, citation)).content == b"total=42"
    listed = (await http.get(f"/openai/v1/containers/{citation['container_id']}/files")).json()
    assert [(f["path"], f["source"], f["bytes"]) for f in listed["data"]] == [("/mnt/data/report.txt", "assistant", 8)]
    file_url = f"/openai/v1/containers/{citation['container_id']}/files/{citation['file_id']}"
    deleted = (await http.delete(file_url)).json()
    assert deleted == {"id": citation["file_id"], "object": "container.file.deleted", "deleted": True}
    assert (await download(http, citation)).status_code == 404
    assert not any(emulator.state.containers[citation["container_id"]].data_dir.iterdir())


async def test_several_blocks_run_in_order_and_errors_are_reported(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """Every fenced block is its own call, run in order; a failing one reports its traceback's last line."""
    prompt = "first:\n```python\nprint('one')\n```\nthen:\n```py\nprint(1 / 0)\n```"
    made = await respond(http, prompt, include=["code_interpreter_call.outputs"])
    assert [call["code"] for call in code_calls(made)] == ["print('one')\n", "print(1 / 0)\n"]
    traceback = code_calls(made)[1]["outputs"][0]["logs"]
    assert 'File "cell_2.py", line 1, in <module>' in traceback
    assert str(emulator.state.root) not in traceback
    text, annotations = message_text(made)
    assert "one" in text
    assert "ZeroDivisionError: division by zero" in text
    assert annotations == []


async def test_recipes_chart_and_describe_the_newest_table(
    http: httpx.AsyncClient, agent: dict[str, Any], data_dir: Path
) -> None:
    """'chart' draws the newest table to <stem>_chart.png by month; 'describe' prints its statistics."""
    sales = await upload(http, data_dir / "valid" / "sales.xlsx")
    made = await respond(http, "chart the units and describe them", structured_inputs={"f1": sales["id"]})
    call, described = code_calls(made)
    assert "df.describe()" in described["code"]
    assert "matplotlib" in call["code"]
    assert "read_excel" in call["code"]
    text, [citation] = message_text(made)
    assert "Plotted units by month from sales.xlsx" in text
    assert "sales.xlsx: 24 rows x 4 columns" in text
    assert citation["filename"] == "sales_chart.png"
    assert (await download(http, citation)).content.startswith(b"\x89PNG")


async def test_time_limit_kills_an_infinite_loop() -> None:
    """A cell that never ends is killed at run_timeout_s and the answer says so."""
    async with FoundryEmulator(EmulatorConfig(run_timeout_s=1.0)) as emulator:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=10) as http:
            await create_agent(http)
            forever = "```python\nwhile True:\n    pass\n```"
            made = await respond(http, forever, include=["code_interpreter_call.outputs"])
    [call] = code_calls(made)
    assert call["status"] == "failed"
    assert "TimeoutError" in call["outputs"][0]["logs"]
    assert "time limit" in message_text(made)[0]
    assert made["status"] == "completed"


async def test_memory_limit_stops_a_greedy_cell() -> None:
    """A cell that allocates past run_memory_mb gets a MemoryError instead of the machine's memory."""
    async with FoundryEmulator(EmulatorConfig(run_memory_mb=256)) as emulator:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=10) as http:
            await create_agent(http)
            made = await respond(http, "```python\nblob = bytearray(2 * 1024 ** 3)\n```")
    assert "MemoryError" in message_text(made)[0]


async def test_expired_container_is_replaced_and_files_remounted(sales_csv: Path) -> None:
    """After the idle timeout the old sandbox is gone (404) and the next turn gets a fresh one with the files."""
    clock = FakeClock()
    async with FoundryEmulator(EmulatorConfig(clock=clock)) as emulator:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=20) as http:
            await create_agent(http)
            sales = await upload(http, sales_csv)
            conversation = (await http.post("/openai/v1/conversations", json={})).json()["id"]
            turn = {"conversation": conversation, "structured_inputs": {"f1": sales["id"]}}
            first = await respond(http, WRITE_REPORT, **turn)
            [citation] = message_text(first)[1]
            old = citation["container_id"]
            old_folder = emulator.state.containers[old].folder
            clock.advance(1799)
            assert emulator.counters()["containers"] == 1
            clock.advance(2)
            assert emulator.counters()["containers"] == 0
            assert (await http.get(f"/openai/v1/containers/{old}")).status_code == 404
            assert (await download(http, citation)).status_code == 404
            assert not old_folder.exists()
            second = await respond(http, "list files", **turn)
            new = code_calls(second)[0]["container_id"]
            listed = (await http.get(f"/openai/v1/containers/{new}/files")).json()["data"]
    assert new != old
    assert "sales.csv" in message_text(second)[0]
    assert "report.txt" not in message_text(second)[0]
    assert [(f["path"], f["source"]) for f in listed] == [("/mnt/data/sales.csv", "user")]


async def test_container_expires_at_max_age_even_when_busy() -> None:
    """A container in steady use still expires max_age_s after it was created."""
    clock = FakeClock()
    async with FoundryEmulator(EmulatorConfig(clock=clock, max_age_s=100)) as emulator:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=20) as http:
            await create_agent(http)
            conversation = (await http.post("/openai/v1/conversations", json={})).json()["id"]
            first = code_calls(await respond(http, "list files", conversation=conversation))[0]["container_id"]
            clock.advance(60)
            again = code_calls(await respond(http, "list files", conversation=conversation))[0]["container_id"]
            clock.advance(50)
            last = code_calls(await respond(http, "list files", conversation=conversation))[0]["container_id"]
    assert first == again != last


async def test_newly_declared_file_joins_the_live_container(
    http: httpx.AsyncClient, agent: dict[str, Any], sales_csv: Path, data_dir: Path
) -> None:
    """A file declared on a later turn is mounted into the same, still-live container."""
    sales = await upload(http, sales_csv)
    notes = await upload(http, data_dir / "valid" / "notes.txt")
    conversation = (await http.post("/openai/v1/conversations", json={})).json()["id"]
    first = await respond(http, "list files", conversation=conversation, structured_inputs={"f1": sales["id"]})
    second = await respond(
        http, "list files", conversation=conversation, structured_inputs={"f1": sales["id"], "f2": notes["id"]}
    )
    container = code_calls(first)[0]["container_id"]
    assert code_calls(second)[0]["container_id"] == container
    assert "notes.txt" not in message_text(first)[0]
    assert "notes.txt" in message_text(second)[0]
    url = f"/openai/v1/containers/{container}/files"
    head = (await http.get(url, params={"limit": 1, "order": "asc"})).json()
    tail = (await http.get(url, params={"limit": 1, "order": "asc", "after": head["last_id"]})).json()
    assert ([f["path"] for f in head["data"]], head["has_more"]) == (["/mnt/data/sales.csv"], True)
    assert ([f["path"] for f in tail["data"]], tail["has_more"]) == (["/mnt/data/notes.txt"], False)


async def test_counters_go_up_and_down(
    http: httpx.AsyncClient, agent: dict[str, Any], sales_csv: Path, emulator: FoundryEmulator
) -> None:
    """Counters follow live resources; deleting a conversation leaves its container until it is deleted."""
    sales = await upload(http, sales_csv)
    conversation = (await http.post("/openai/v1/conversations", json={})).json()["id"]
    made = await respond(http, "list files", conversation=conversation, structured_inputs={"f1": sales["id"]})
    container = code_calls(made)[0]["container_id"]
    assert emulator.counters() == {"agent_versions": 1, "conversations": 1, "files": 1, "containers": 1}
    await http.delete(f"/openai/v1/conversations/{conversation}")
    await http.delete(f"/openai/v1/files/{sales['id']}")
    assert emulator.counters() == {"agent_versions": 1, "conversations": 0, "files": 0, "containers": 1}
    folder = emulator.state.containers[container].folder
    deleted = (await http.delete(f"/openai/v1/containers/{container}")).json()
    assert {"id": container, "object": "container.deleted", "deleted": True} == deleted
    assert not folder.exists()
    assert (await http.delete(f"/openai/v1/containers/{container}")).status_code == 404
    await http.delete(f"/agents/{AGENT}", params={"api-version": "v1"})
    assert emulator.counters() == {"agent_versions": 0, "conversations": 0, "files": 0, "containers": 0}


async def test_stop_removes_every_temp_folder(sales_csv: Path) -> None:
    """Stopping the emulator deletes uploads and container folders from disk."""
    emulator = FoundryEmulator()
    await emulator.start()
    try:
        headers = {"Authorization": f"Bearer {emulator.issue_token()}"}
        async with httpx.AsyncClient(base_url=emulator.endpoint, headers=headers, timeout=20) as http:
            await create_agent(http)
            sales = await upload(http, sales_csv)
            await respond(http, "list files", structured_inputs={"f1": sales["id"]})
        root = emulator.state.root
        assert any(root.rglob("sales.csv"))
    finally:
        await emulator.stop()
    assert not root.exists()


async def test_a_prompt_can_make_the_model_cite_any_container_file(
    http: httpx.AsyncClient, agent: dict[str, Any], emulator: FoundryEmulator
) -> None:
    """``[cite: cntr_…/cfile_…]`` adds a citation of that file, spanning its own sandbox link, to the
    answer, as a model talked into it would: what a client must refuse to follow across threads."""
    foreign = "[cite: cntr_elsewhere/cfile_secret]"
    for prompt in (f"{foreign} {WRITE_REPORT}", f"{foreign} hello"):  # with code, and a text-only answer
        made = await respond(http, prompt)
        text, citations = message_text(made)
        cited = citations[-1]
        assert (cited["container_id"], cited["file_id"]) == ("cntr_elsewhere", "cfile_secret")
        assert text[cited["start_index"] : cited["end_index"]] == f"sandbox:/mnt/data/{cited['filename']}"
        assert [c["container_id"] for c in citations[:-1]] == [call["container_id"] for call in code_calls(made)]
