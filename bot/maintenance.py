"""``python -m bot sweep`` and ``teardown``: find and remove what no live session owns.

The sweep catches what the clean-up jobs could not: conversations tagged with this deployment
that neither a thread's active session nor the spare list owns (created behind the bot's back,
or left by a job that gave up), and uploaded files recorded for sessions that ended. Teardown
ends every session, runs every clean-up, deletes the spares, sweeps, and deletes the
deployment's agent versions: nothing of it is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.agent import DEPLOYMENT_KEY
from bot.config import Settings
from bot.errors import FoundryBadRequest
from bot.foundry.client import Foundry
from bot.foundry.models import Conversation
from bot.lifecycle import Lifecycle
from storage.protocol import Store
from storage.records import ArchiveReason, FileStatus, SessionState


@dataclass
class Report:
    """What was (or would be) removed."""

    conversations: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: Spare conversations made ahead for new threads: a sweep keeps them, teardown deletes them.
    spares: list[str] = field(default_factory=list)
    spares_deleted: bool = False
    sessions: int = 0
    agent_versions: list[str] = field(default_factory=list)
    unfinished_jobs: int = 0

    def lines(self, *, dry_run: bool) -> list[str]:
        """The report as a person reads it."""
        verb = "would delete" if dry_run else "deleted"
        lines = []
        if self.sessions:
            lines.append(
                f"{'would end' if dry_run else 'ended'} {self.sessions} live session(s), with the conversation, "
                "files and sandboxes each one used"
            )
        lines.append(f"{verb} {len(self.conversations)} conversation(s)" + _ids(self.conversations))
        if self.spares:
            what = "spare conversation(s) made ahead for new threads"
            if self.spares_deleted:
                lines.append(f"(of those, {len(self.spares)} {what})")
            else:
                lines.append(f"kept {len(self.spares)} {what}" + _ids(self.spares))
        lines.append(f"{verb} {len(self.files)} file(s)" + _ids(self.files))
        if self.agent_versions:
            lines.append(f"{verb} agent version(s) {', '.join(self.agent_versions)}")
        if self.unfinished_jobs:
            lines.append(f"{self.unfinished_jobs} clean-up job(s) still failing: run `python -m bot sweep` later")
        return lines


async def sweep(store: Store, foundry: Foundry, settings: Settings, *, dry_run: bool) -> Report:
    """Delete (or list) this deployment's conversations and files that no active session owns."""
    report = Report()
    # Listed before ownership is read, so a conversation the bot makes meanwhile is taken for a
    # stray only if it is listed between Foundry making it and the store recording it.
    tagged = await _tagged_conversations(foundry, settings)
    # Spares before sessions: a conversation only ever moves from the spares to a session.
    report.spares = [spare.conversation_id for spare in await store.list_spare_conversations()]
    owned = set(report.spares)
    owned |= {s.conversation_id for s in await store.list_sessions(states=[SessionState.ACTIVE]) if s.conversation_id}
    for conversation in tagged:
        if conversation.id not in owned:
            report.conversations.append(conversation.id)
            if not dry_run:
                await foundry.delete_conversation(conversation.id)
    for session in await store.list_sessions(states=[SessionState.ARCHIVING, SessionState.ARCHIVED]):
        for stored in await store.list_files(session.id, statuses=[FileStatus.UPLOADED, FileStatus.FAILED]):
            if stored.foundry_file_id:
                report.files.append(stored.foundry_file_id)
                if not dry_run:
                    await foundry.delete_file(stored.foundry_file_id)
                    await store.mark_file_deleted(stored.id)
    return report


async def teardown(
    store: Store, foundry: Foundry, lifecycle: Lifecycle, settings: Settings, *, dry_run: bool
) -> Report:
    """End every session, finish every clean-up, delete the spares, sweep, and delete the agent versions."""
    active = await store.list_sessions(states=[SessionState.ACTIVE])
    if not dry_run:
        for session in active:
            await lifecycle.archive(session, ArchiveReason.TEARDOWN)
        left = await lifecycle.drain()
    spares = [spare.conversation_id for spare in await store.list_spare_conversations()]
    if not dry_run:  # a spare a running bot took meanwhile is its thread's now, and not reported
        spares = [spare for spare in spares if await store.drop_spare_conversation(spare)]
        for spare in spares:
            await foundry.delete_conversation(spare)
    report = await sweep(store, foundry, settings, dry_run=dry_run)
    report.conversations[:0] = spares
    report.spares, report.spares_deleted = spares, True
    report.sessions = len(active)
    report.unfinished_jobs = 0 if dry_run else len(left)
    for version in await foundry.list_agent_versions(settings.agent_name):
        if version.metadata.get(DEPLOYMENT_KEY) == settings.deployment:
            report.agent_versions.append(version.version)
            if not dry_run:
                await foundry.delete_agent_version(settings.agent_name, version.version)
    return report


async def _tagged_conversations(foundry: Foundry, settings: Settings) -> list[Conversation]:
    """Conversations carrying this deployment's tag; Foundry may insist on an agent filter."""
    try:
        listed = await foundry.list_conversations()
    except FoundryBadRequest:
        listed = await foundry.list_conversations(agent_name=settings.agent_name)
    return [c for c in listed if c.metadata.get("deployment") == settings.deployment]


def _ids(ids: list[str], most: int = 5) -> str:
    if not ids:
        return ""
    shown = ", ".join(ids[:most])
    return f": {shown}" + (f" and {len(ids) - most} more" if len(ids) > most else "")
