"""The emulated Web API, driven by slack_sdk's AsyncWebClient exactly as the bot will use it."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulators.slack import SlackEmulator

# The *_fixture imports register pytest fixtures (by their name=), hence unused.
from tests.bot.emulators.conftest_slack import World, client_fixture, slack_fixture, world_fixture  # noqa: F401


async def test_auth_test_reports_bot_identity_and_scopes_header(client: AsyncWebClient, slack: SlackEmulator) -> None:
    """auth.test names the bot, team and workspace URL and lists granted scopes in x-oauth-scopes."""
    response = await client.auth_test()
    assert (response["user_id"], response["bot_id"], response["team_id"]) == (
        slack.bot.id,
        slack.config.bot_id,
        slack.config.team_id,
    )
    assert response["url"] == slack.base_url + "/"
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")


async def test_post_message_stores_text_blocks_metadata_in_thread(client: AsyncWebClient, world: World) -> None:
    """chat.postMessage (JSON body) returns ts/channel/message and the reply lands in the thread."""
    root = await world.slack.post_message(world.alice, world.general, world.mention("hi"))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]
    metadata = {"event_type": "turn", "event_payload": {"turn": 1}}
    response = await client.chat_postMessage(
        channel=world.general.id, text="hello", blocks=blocks, thread_ts=root.ts, metadata=metadata
    )
    assert response["channel"] == world.general.id
    assert response["message"]["blocks"] == blocks
    assert response["message"]["bot_id"] == world.slack.config.bot_id
    thread = world.slack.thread(world.general, root.ts)
    assert [m.ts for m in thread] == [root.ts, response["ts"]]
    assert thread[1].metadata == metadata


async def test_post_message_markdown_text_and_conflicts(client: AsyncWebClient, world: World) -> None:
    """markdown_text is accepted alone and refused with text (markdown_text_conflict); nothing gives no_text."""
    response = await client.chat_postMessage(channel=world.general.id, markdown_text="**bold**")
    assert response["message"]["text"] == "**bold**"
    with pytest.raises(SlackApiError) as conflict:
        await client.chat_postMessage(channel=world.general.id, markdown_text="x", text="y")
    assert conflict.value.response["error"] == "markdown_text_conflict"
    with pytest.raises(SlackApiError) as empty:
        await client.api_call("chat.postMessage", json={"channel": world.general.id})
    assert empty.value.response["error"] == "no_text"


async def test_post_to_a_user_id_opens_the_dm(client: AsyncWebClient, world: World) -> None:
    """chat.postMessage with a user id as channel posts in the bot's DM with that person."""
    response = await client.chat_postMessage(channel=world.bob.id, text="psst")
    dm = world.slack.open_dm(world.bob)
    assert response["channel"] == dm.id
    assert [m.text for m in world.slack.timeline(dm)] == ["psst"]


async def test_channel_errors_follow_slack(client: AsyncWebClient, slack: SlackEmulator, world: World) -> None:
    """Unknown or hidden private channel → channel_not_found; public non-member → not_in_channel."""
    outside = slack.add_channel("outside", members=[world.alice], bot=False)
    hidden = slack.add_channel("hidden", kind="private", members=[world.alice], bot=False)
    for channel, error in (
        ("C404", "channel_not_found"),
        (hidden.id, "channel_not_found"),
        (outside.id, "not_in_channel"),
    ):
        with pytest.raises(SlackApiError) as failure:
            await client.chat_postMessage(channel=channel, text="x")
        assert failure.value.response["error"] == error


async def test_update_and_delete_only_own_messages(client: AsyncWebClient, world: World) -> None:
    """chat.update edits the bot's message; chat.delete removes it; a person's message is refused."""
    posted = await client.chat_postMessage(channel=world.general.id, text="v1")
    updated = await client.chat_update(channel=world.general.id, ts=posted["ts"], text="v2")
    assert updated["message"]["text"] == "v2"
    assert world.slack.timeline(world.general)[-1].edited is not None
    human = await world.slack.post_message(world.alice, world.general, "mine")
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel=world.general.id, ts=human.ts, text="x")
    assert refused.value.response["error"] == "cant_update_message"
    await client.chat_delete(channel=world.general.id, ts=posted["ts"])
    assert [m.ts for m in world.slack.timeline(world.general)] == [human.ts]
    with pytest.raises(SlackApiError) as gone:
        await client.chat_delete(channel=world.general.id, ts=posted["ts"])
    assert gone.value.response["error"] == "message_not_found"


async def test_post_ephemeral_is_seen_by_one_person(client: AsyncWebClient, slack: SlackEmulator, world: World) -> None:
    """chat.postEphemeral shows in the thread for its user only; a non-member gets user_not_in_channel."""
    root = await slack.post_message(world.alice, world.general, "question")
    response = await client.chat_postEphemeral(
        channel=world.general.id, user=world.alice.id, text="only you", thread_ts=root.ts
    )
    assert response["message_ts"]
    assert [m.text for m in slack.thread(world.general, root.ts, viewer=world.alice.id)] == ["question", "only you"]
    assert [m.text for m in slack.thread(world.general, root.ts, viewer=world.bob.id)] == ["question"]
    carol = slack.add_user("carol")
    with pytest.raises(SlackApiError) as failure:
        await client.chat_postEphemeral(channel=world.general.id, user=carol.id, text="x")
    assert failure.value.response["error"] == "user_not_in_channel"


async def test_reactions_add_remove_and_already_reacted(client: AsyncWebClient, world: World) -> None:
    """reactions.add (query params) records the bot's reaction; a repeat is already_reacted.

    The bot itself never reacts, so its manifest (the emulator's default) leaves reactions:write out.
    """
    world.slack.scopes.add("reactions:write")
    message = await world.slack.post_message(world.alice, world.general, "react to me")
    await client.reactions_add(channel=world.general.id, name="eyes", timestamp=message.ts)
    assert message.reactions == {"eyes": [world.slack.bot.id]}
    with pytest.raises(SlackApiError) as again:
        await client.reactions_add(channel=world.general.id, name="eyes", timestamp=message.ts)
    assert again.value.response["error"] == "already_reacted"
    await client.reactions_remove(channel=world.general.id, name="eyes", timestamp=message.ts)
    with pytest.raises(SlackApiError) as none:
        await client.reactions_remove(channel=world.general.id, name="eyes", timestamp=message.ts)
    assert none.value.response["error"] == "no_reaction"


async def test_conversations_replies_pages_and_hides_foreign_metadata(client: AsyncWebClient, world: World) -> None:
    """conversations.replies (GET) pages with a cursor, root first with reply_count, metadata included."""
    slack = world.slack
    root = await slack.post_message(world.alice, world.general, "root")
    for n in range(4):
        await slack.post_message(world.bob, world.general, f"reply {n}", thread_ts=root.ts)
    await client.chat_postMessage(
        channel=world.general.id, text="mine", thread_ts=root.ts, metadata={"event_type": "turn", "event_payload": {}}
    )
    first = await client.conversations_replies(channel=world.general.id, ts=root.ts, limit=3)
    assert first["has_more"] is True
    rest = await client.conversations_replies(
        channel=world.general.id, ts=root.ts, limit=3, cursor=first["response_metadata"]["next_cursor"]
    )
    texts = [m["text"] for m in first["messages"] + rest["messages"]]
    assert texts == ["root", "reply 0", "reply 1", "reply 2", "reply 3", "mine"]
    assert first["messages"][0]["reply_count"] == 5
    assert rest["messages"][-1]["metadata"]["event_type"] == "turn"


async def test_conversations_info_and_history_need_membership(
    client: AsyncWebClient, slack: SlackEmulator, world: World
) -> None:
    """conversations.info describes a channel; replies in a channel the bot left is not_in_channel."""
    info = await client.conversations_info(channel=world.secret.id)
    assert info["channel"]["is_private"] is True
    assert info["channel"]["is_member"] is True
    root = await slack.post_message(world.alice, world.general, "x")
    await slack.remove_bot(world.general, by=world.alice)
    with pytest.raises(SlackApiError) as failure:
        await client.conversations_replies(channel=world.general.id, ts=root.ts)
    assert failure.value.response["error"] == "not_in_channel"


async def test_files_upload_v2_into_thread_then_files_info_shows_share(client: AsyncWebClient, world: World) -> None:
    """files_upload_v2 (three steps) posts a file share in the thread; files.info has shares with thread_ts."""
    root = await world.slack.post_message(world.alice, world.general, world.mention("chart please"))
    response = await client.files_upload_v2(
        channel=world.general.id,
        thread_ts=root.ts,
        content=b"\x89PNG data",
        filename="chart.png",
        title="Chart",
        initial_comment="Here it is",
    )
    file_id = response["file"]["id"]
    assert response["file"]["title"] == "Chart"
    info = await client.files_info(file=file_id)
    share = info["file"]["shares"]["public"][world.general.id][0]
    assert share["thread_ts"] == root.ts
    message = world.slack.thread(world.general, root.ts)[-1]
    assert (message.ts, message.files, message.text) == (share["ts"], [file_id], "Here it is")
    assert info["file"]["mimetype"] == "image/png"
    assert info["file"]["size"] == len(b"\x89PNG data")


async def test_file_share_can_land_after_the_answer(client: AsyncWebClient, world: World) -> None:
    """With a share delay, files.info has no shares right after the upload and gets them later."""
    world.slack.delay_shares(0.2)
    response = await client.files_upload_v2(channel=world.general.id, content="a,b\n", filename="t.csv")
    early = await client.files_info(file=response["file"]["id"])
    assert early["file"]["shares"] == {}
    await world.slack.wait_for(lambda: world.slack.file_info(response["file"]["id"])["shares"], timeout=2)
    late = await client.files_info(file=response["file"]["id"])
    assert late["file"]["shares"]["public"][world.general.id][0]["ts"]


async def test_upload_to_channel_without_membership_is_not_in_channel(
    client: AsyncWebClient, slack: SlackEmulator, world: World
) -> None:
    """files.completeUploadExternal needs membership even where chat:write.public would allow posting."""
    outside = slack.add_channel("outside", members=[world.alice], bot=False)
    slack.scopes.add("chat:write.public")
    await client.chat_postMessage(channel=outside.id, text="allowed")
    with pytest.raises(SlackApiError) as failure:
        await client.files_upload_v2(channel=outside.id, content=b"x", filename="x.txt")
    assert failure.value.response["error"] == "not_in_channel"


async def test_set_status_is_recorded_cleared_and_can_be_refused(client: AsyncWebClient, world: World) -> None:
    """assistant.threads.setStatus shows a status until the bot replies; refuse_set_status makes it fail."""
    slack = world.slack
    root = await slack.post_message(world.alice, world.general, "q")
    await client.assistant_threads_setStatus(channel_id=world.general.id, thread_ts=root.ts, status="is thinking…")
    assert slack.thread_status(world.general, root.ts) == "is thinking…"
    await client.chat_postMessage(channel=world.general.id, thread_ts=root.ts, text="answer")
    assert slack.thread_status(world.general, root.ts) is None
    slack.refuse_set_status("missing_scope")
    with pytest.raises(SlackApiError) as refused:
        await client.assistant_threads_setStatus(channel_id=world.general.id, thread_ts=root.ts, status="x")
    assert refused.value.response["error"] == "missing_scope"


async def test_tokens_are_checked_and_recorded(slack: SlackEmulator, world: World) -> None:
    """A wrong token is invalid_auth, none is not_authed, the app token only opens connections."""
    bad = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as invalid:
        await bad.auth_test()
    assert invalid.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=slack.api_url).auth_test()
    assert missing.value.response["error"] == "not_authed"
    app_client = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    opened = await app_client.apps_connections_open(app_token=slack.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:")
    with pytest.raises(SlackApiError) as wrong_type:
        await app_client.chat_postMessage(channel=world.general.id, text="x")
    assert wrong_type.value.response["error"] == "not_allowed_token_type"
    calls = slack.api_calls()
    assert [(c.method, c.token_kind, c.token_valid) for c in calls] == [
        ("auth.test", "bot", False),
        ("auth.test", "none", False),
        ("apps.connections.open", "app", True),
        ("chat.postMessage", "app", True),
    ]


async def test_uninstall_revokes_the_bot_token(client: AsyncWebClient, slack: SlackEmulator) -> None:
    """After uninstall every bot call answers token_revoked."""
    await slack.uninstall()
    with pytest.raises(SlackApiError) as revoked:
        await client.auth_test()
    assert revoked.value.response["error"] == "token_revoked"


async def test_rate_limit_is_retried_by_sdk_handler(slack: SlackEmulator, world: World) -> None:
    """Injected 429s carry Retry-After and AsyncRateLimitErrorRetryHandler gets through them."""
    slack.rate_limit("chat.postMessage", times=2, retry_after=0)
    handler = AsyncRateLimitErrorRetryHandler(max_retry_count=2)
    patient = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[handler])
    await patient.chat_postMessage(channel=world.general.id, text="eventually")
    assert [(c.status, c.error) for c in slack.api_calls("chat.postMessage")] == [
        (429, "ratelimited"),
        (429, "ratelimited"),
        (200, None),
    ]
    slack.rate_limit("chat.postMessage", retry_after=7)
    impatient = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as limited:
        await impatient.chat_postMessage(channel=world.general.id, text="now")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"


async def test_form_bodies_query_strings_and_missing_scope(
    client: AsyncWebClient, slack: SlackEmulator, world: World
) -> None:
    """Arguments arrive as a form body too; a removed scope gives missing_scope with needed/provided."""
    posted = await client.api_call(
        "chat.postMessage", data={"channel": world.general.id, "text": "form", "blocks": '[{"type": "divider"}]'}
    )
    assert posted["message"]["blocks"] == [{"type": "divider"}]
    slack.scopes.discard("reactions:write")
    with pytest.raises(SlackApiError) as failure:
        await client.reactions_add(channel=world.general.id, name="eyes", timestamp=posted["ts"])
    assert (failure.value.response["error"], failure.value.response["needed"]) == ("missing_scope", "reactions:write")
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("no.such.method")
    assert unknown.value.response["error"] == "unknown_method"
