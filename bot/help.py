"""What the bot says about itself: the short help in a thread, the long one for ``/interpreter help``."""

from __future__ import annotations

from bot.files.types import accepted_list

HELP_TEXT = (
    "Hi! Ask me a data question in this thread and I'll answer it with Python in a secure sandbox: "
    "calculations, tables, charts. For example: _plot revenue by month_ or _describe this data_. "
    "Drop CSV, Excel, PDF or other files into the thread and I'll work with them. "
    "I answer every reply in a thread I'm part of, and DMs too. "
    "In a thread, `@code-interpreter files` lists its files and `@code-interpreter end` ends its session."
)


def command_help(max_file_mb: int, bot: str = "@code-interpreter") -> str:
    """``/interpreter help``: what the bot does, threads, files and their types, the commands.

    ``bot``: how to write the bot's name (``<@U…>`` shows whatever name the workspace gave it).
    """
    return "\n".join(
        [
            "*Code Interpreter* answers data questions by writing and running Python in a secure "
            "Microsoft Foundry sandbox, and posts the answer, charts and files back into Slack.",
            "*Ask*: `/interpreter <question>` starts a thread in this channel; or mention "
            f"{bot} in any channel I'm in; or DM me. Every reply in that thread continues "
            "the same session: the sandbox keeps your files and variables until the thread ends.",
            f"*Files*: drop them into the thread (up to {max_file_mb} MB each). Accepted: {accepted_list()}.",
            f"*In a thread*: {bot} `files` lists its files, {bot} `end` (or the "
            "End session button) deletes everything the thread used; Stop cancels a running answer; "
            "Show code shows the Python that ran.",
            "*Commands*: `/interpreter status` (live sessions in this channel), "
            "`/interpreter usage` (what you and this channel used), `/interpreter help`.",
        ]
    )
