"""``GET /metrics``: what the bot is doing right now, in Prometheus' text format.

Gauges only, read from the store on each scrape, so every replica sharing a database reports
the same figures: aggregate replicas with ``max``, not ``sum``.
"""

from __future__ import annotations

from storage.protocol import Store

#: Name, help text and the ``Gauges`` field behind each metric.
_METRICS = (
    (
        "code_interpreter_sessions",
        "Thread sessions by state.",
        {"active": "active_sessions", "archiving": "archiving_sessions"},
    ),
    ("code_interpreter_turns", "Turns waiting or running.", {"queued": "queued_turns", "running": "running_turns"}),
    (
        "code_interpreter_cleanups",
        "Clean-up jobs not finished.",
        {"pending": "pending_cleanups", "failed": "failed_cleanups"},
    ),
)


async def render_metrics(store: Store) -> str:
    """The current gauges as Prometheus text."""
    gauges = (await store.gauges()).model_dump()
    lines: list[str] = []
    for name, help_text, by_state in _METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f'{name}{{state="{state}"}} {gauges[field]}' for state, field in by_state.items()]
    return "\n".join(lines) + "\n"
