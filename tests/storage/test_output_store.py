"""Generated files posted back, and the code each turn ran."""

from __future__ import annotations

from storage import CodeBlock, NewOutput, Output, OutputStatus, Session, Store, Turn

from .helpers import START, ManualClock


def _output(turn: Turn, status: OutputStatus, **fields: object) -> NewOutput:
    values: dict[str, object] = {
        "turn_id": turn.id,
        "container_id": "cntr_1",
        "container_file_id": "cfile_1",
        "filename": "chart.png",
        "status": status,
    }
    return NewOutput.model_validate({**values, **fields})


async def test_record_output_round_trips_all_fields(store: Store, turn: Turn) -> None:
    """An output read back has every field it was recorded with."""
    recorded = await store.record_output(
        _output(turn, OutputStatus.POSTED, size=2048, slack_file_id="F9", detail="shared in thread")
    )

    assert await store.list_outputs(turn.id) == [
        Output(
            id=recorded.id,
            turn_id=turn.id,
            container_id="cntr_1",
            container_file_id="cfile_1",
            filename="chart.png",
            size=2048,
            slack_file_id="F9",
            status=OutputStatus.POSTED,
            detail="shared in thread",
            created_at=START,
        )
    ]


async def test_record_output_posted_is_final(store: Store, turn: Turn) -> None:
    """Recording a posted output again (a resumed turn) keeps it posted."""
    posted = await store.record_output(_output(turn, OutputStatus.POSTED, slack_file_id="F9"))

    again = await store.record_output(_output(turn, OutputStatus.FAILED, detail="download failed"))

    assert posted == again
    assert await store.list_outputs(turn.id) == [posted]


async def test_record_output_failed_can_be_retried(store: Store, turn: Turn) -> None:
    """A failed output recorded again as posted becomes posted, in the same row."""
    failed = await store.record_output(_output(turn, OutputStatus.FAILED, detail="timeout"))

    posted = await store.record_output(_output(turn, OutputStatus.POSTED, slack_file_id="F9"))

    assert (posted.id, posted.status, posted.slack_file_id, posted.detail) == (
        failed.id,
        OutputStatus.POSTED,
        "F9",
        None,
    )


async def test_add_code_keeps_call_order(store: Store, turn: Turn, clock: ManualClock) -> None:
    """Code blocks are listed in the order their calls were first recorded; a repeat replaces the code."""
    await store.add_code(turn.id, "ci_a", "import pandas")
    clock.advance(seconds=1)
    await store.add_code(turn.id, "ci_b", "df.plot()")
    replaced = await store.add_code(turn.id, "ci_a", "import pandas as pd")

    assert await store.list_code(turn.id) == [
        CodeBlock(turn_id=turn.id, position=1, call_id="ci_a", code="import pandas as pd", created_at=START),
        CodeBlock(turn_id=turn.id, position=2, call_id="ci_b", code="df.plot()", created_at=clock.now),
    ]
    assert replaced.position == 1


async def test_list_code_separates_turns(store: Store, turn: Turn) -> None:
    """Each turn numbers its code from 1 and lists only its own."""
    other, _ = await store.enqueue_turn(turn.session_id, user_id="U1", message_ts="9.9", text="again")
    await store.add_code(turn.id, "ci_a", "1")
    block = await store.add_code(other.id, "ci_b", "2")

    assert block.position == 1
    assert await store.list_code(other.id) == [block]


async def test_session_outputs_span_every_turn(store: Store, session: Session) -> None:
    """The outputs of all of a session's turns come back together, and no other session's."""
    first, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="1.0", text="a")
    second, _ = await store.enqueue_turn(session.id, user_id="U1", message_ts="2.0", text="b")
    other, _ = await store.get_or_create_session("T1", "C9", "9.0")
    stranger, _ = await store.enqueue_turn(other.id, user_id="U1", message_ts="3.0", text="c")
    for turn, file_id in ((first, "cfile_1"), (second, "cfile_2"), (stranger, "cfile_3")):
        await store.record_output(
            NewOutput(turn_id=turn.id, container_id="cntr_1", container_file_id=file_id, filename="a.png",
                      status=OutputStatus.POSTED)
        )  # fmt: skip
    outputs = await store.list_session_outputs(session.id)
    assert [o.container_file_id for o in outputs] == ["cfile_1", "cfile_2"]
