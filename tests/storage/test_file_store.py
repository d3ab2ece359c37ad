"""Files uploaded per thread: once per content, with their upload status."""

from __future__ import annotations

import asyncio
import hashlib

from storage import FileStatus, NewFile, Session, Store, StoredFile

from .helpers import START


def _new_file(session: Session, content: bytes = b"a,b\n1,2\n", **fields: object) -> NewFile:
    values: dict[str, object] = {
        "session_id": session.id,
        "slack_file_id": "F1",
        "name": "sales.csv",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "mimetype": "text/csv",
    }
    return NewFile.model_validate({**values, **fields})


async def test_add_file_round_trips_all_fields(store: Store, session: Session) -> None:
    """A file read back has every field it was added with, uploaded when Foundry's id is known."""
    new = _new_file(session, foundry_file_id="assistant-abc")

    added, created = await store.add_file(new)

    assert created
    assert await store.get_file(added.id) == StoredFile(
        id=added.id,
        session_id=session.id,
        slack_file_id="F1",
        foundry_file_id="assistant-abc",
        name="sales.csv",
        size=new.size,
        sha256=new.sha256,
        mimetype="text/csv",
        status=FileStatus.UPLOADED,
        created_at=START,
    )


async def test_add_file_same_bytes_stored_once_per_thread(store: Store, session: Session) -> None:
    """The same bytes dropped again in a thread return the first file; another thread stores its own."""
    first, _ = await store.add_file(_new_file(session))
    again, created = await store.add_file(_new_file(session, slack_file_id="F2", name="copy.csv"))
    other_session, _ = await store.get_or_create_session("T1", "C1", "2.0")
    elsewhere, created_elsewhere = await store.add_file(_new_file(other_session))

    assert (again, created) == (first, False)
    assert created_elsewhere
    assert first.id != elsewhere.id


async def test_add_file_retakes_failed_row(store: Store, session: Session) -> None:
    """Bytes whose earlier upload failed are taken by the new upload."""
    first, _ = await store.add_file(_new_file(session))
    await store.mark_file_failed(first.id)

    retried, created = await store.add_file(_new_file(session, slack_file_id="F2", foundry_file_id="assistant-2"))

    assert created
    assert (retried.id, retried.slack_file_id, retried.status) == (first.id, "F2", FileStatus.UPLOADED)


async def test_add_file_takes_over_a_row_deleted_while_it_was_read(store: Store, session: Session) -> None:
    """The same bytes added as their earlier row is deleted: the new file takes the row, never a deleted one."""
    first, _ = await store.add_file(_new_file(session))

    (added, created), _ = await asyncio.gather(
        store.add_file(_new_file(session, slack_file_id="F2")), store.mark_file_deleted(first.id)
    )

    assert created
    assert (added.id, added.slack_file_id, added.status) == (first.id, "F2", FileStatus.PENDING)


async def test_file_status_changes(store: Store, session: Session) -> None:
    """A pending file becomes uploaded with Foundry's id, and later deleted."""
    pending, _ = await store.add_file(_new_file(session))
    uploaded = await store.mark_file_uploaded(pending.id, "assistant-1")
    deleted = await store.mark_file_deleted(pending.id)

    assert pending.status == FileStatus.PENDING
    assert uploaded is not None
    assert (uploaded.status, uploaded.foundry_file_id) == (FileStatus.UPLOADED, "assistant-1")
    assert deleted is not None
    assert deleted.status == FileStatus.DELETED
    assert await store.mark_file_failed(pending.id) is None
    assert await store.mark_file_uploaded(pending.id, "assistant-2") is None


async def test_find_file_by_slack_id(store: Store, session: Session) -> None:
    """A file is found by the Slack file it came from, within its thread only."""
    added, _ = await store.add_file(_new_file(session, slack_file_id="F7"))
    other_session, _ = await store.get_or_create_session("T1", "C1", "2.0")

    assert await store.find_file_by_slack_id(session.id, "F7") == added
    assert await store.find_file_by_slack_id(other_session.id, "F7") is None


async def test_list_files_by_status(store: Store, session: Session) -> None:
    """A thread's files are listed in upload order, optionally by status."""
    one, _ = await store.add_file(_new_file(session, b"1", foundry_file_id="assistant-1"))
    two, _ = await store.add_file(_new_file(session, b"2"))
    three, _ = await store.add_file(_new_file(session, b"3", foundry_file_id="assistant-3"))

    assert [listed.id for listed in await store.list_files(session.id)] == [one.id, two.id, three.id]
    uploaded = await store.list_files(session.id, statuses={FileStatus.UPLOADED})
    assert [listed.id for listed in uploaded] == [one.id, three.id]


async def test_file_updates_unknown_id_return_none(store: Store) -> None:
    """Status changes of an unknown file return None."""
    assert await store.get_file(5) is None
    assert await store.mark_file_uploaded(5, "assistant-1") is None
    assert await store.mark_file_deleted(5) is None
