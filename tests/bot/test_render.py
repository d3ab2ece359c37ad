"""Answer text as a person sees it in Slack: no sandbox links, nothing cut mid-code-block."""

from __future__ import annotations

from bot.render import (
    ZERO_WIDTH_SPACE,
    defuse_broadcasts,
    defuse_mentions,
    for_slack,
    split_message,
    strip_sandbox_links,
)


def test_sandbox_links_become_file_names() -> None:
    """A Markdown link into the sandbox shows the file's name instead of an unusable URL."""
    text = "Here is the chart: [chart.png](sandbox:/mnt/data/chart.png) and ![img](sandbox:/mnt/data/a/b.csv)."
    shown = strip_sandbox_links(text)
    assert "sandbox:" not in shown
    assert "*chart.png*" in shown
    assert "img (*b.csv*)" in shown


def test_bare_sandbox_paths_are_replaced_too() -> None:
    """A sandbox path outside a link is also replaced."""
    assert strip_sandbox_links("Saved to sandbox:/mnt/data/out.xlsx.") == "Saved to *out.xlsx*."


def test_short_text_is_one_message() -> None:
    """An answer within the limit is sent as it is."""
    assert split_message("hello\n\nworld") == ["hello\n\nworld"]


def test_long_text_splits_on_lines_within_the_limit() -> None:
    """A long answer becomes several messages, none over the limit, with every line kept."""
    lines = [f"line {i} " + "x" * 50 for i in range(100)]
    parts = split_message("\n".join(lines), limit=1000)
    assert len(parts) > 1
    assert all(len(p) <= 1000 for p in parts)
    assert "\n".join(parts).split("\n") == lines


def test_code_block_cut_in_two_is_refenced() -> None:
    """A code block split across messages is closed in the first and reopened in the next."""
    code = "```python\n" + "\n".join(f"print({i})" for i in range(200)) + "\n```"
    parts = split_message("Intro\n\n" + code + "\n\nOutro", limit=600)
    assert len(parts) > 1
    for part in parts:
        assert part.count("```") % 2 == 0, part
    assert parts[1].startswith("```python")


def test_one_very_long_line_is_cut_hard() -> None:
    """A single line longer than the limit is still split."""
    parts = split_message("y" * 2500, limit=1000)
    assert [len(p) for p in parts] == [1000, 1000, 500]


def test_for_slack_combines_both() -> None:
    """The full pipeline strips sandbox links and returns nothing for an empty answer."""
    assert for_slack("see [c.png](sandbox:/mnt/data/c.png)") == ["see *c.png*"]
    assert for_slack("   ") == []


def test_broadcast_mentions_stay_visible_but_notify_no_one() -> None:
    """A file can put <!channel> in the model's mouth: the text shows it, Slack never reads it as a mention."""
    text = "Ping <!channel>, <!here|here>, <!everyone> and <!subteam^S123|@data>."
    defused = defuse_broadcasts(text)
    assert defused.replace(ZERO_WIDTH_SPACE, "") == text
    for token in ("<!channel>", "<!here", "<!everyone>", "<!subteam^"):
        assert token not in defused


def test_other_angle_brackets_are_left_alone() -> None:
    """HTML, comparisons and links in an answer are not mentions and pass unchanged."""
    text = "<!DOCTYPE html> a <b> 1 < 2 <https://example.com|site> <!channeling> <!date^1|x>"
    assert defuse_broadcasts(text) == text


def test_peoples_mentions_in_an_answer_stay_visible_but_notify_no_one() -> None:
    """A file can also make the model name a person: shown, never a ping; channel links stay links."""
    text = "Ask <@U0123ABC>, <@W9Z8Y7|maria>, <@u0456def> or <!here>; see <#C0123|general> and <mailto:a@b.c|mail>."
    defused = defuse_mentions(text)
    assert defused.replace(ZERO_WIDTH_SPACE, "") == text
    for token in ("<@U0123ABC>", "<@W9Z8Y7|", "<@u0456def>", "<!here>"):
        assert token not in defused
    assert "<#C0123|general>" in defused
    assert "<mailto:a@b.c|mail>" in defused
    assert for_slack(text) == [defused]
