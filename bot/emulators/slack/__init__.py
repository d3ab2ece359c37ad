r"""A Slack you can run on loopback: the Web API subset, event delivery, files, and a driver.

The bot cannot reach Slack from a developer machine or CI, so its end-to-end tests, the demo
and users' own tests talk to this emulator instead, through the real ``slack_sdk`` client and
real bolt, over real HTTP and WebSockets, shaped after Slack's documented wire formats.

Start it and point an app at it::

    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from bot.emulators.slack import EmulatorConfig, FileUpload, RetryPolicy, SlackEmulator

    async with SlackEmulator(EmulatorConfig(retry=RetryPolicy.fast())) as slack:
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])       # the bot is a member
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)  # = SLACK_API_URL
        app = AsyncApp(client=client, signing_secret=slack.signing_secret)
        # HTTP mode: serve app.web_app() on loopback, then
        slack.use_http("http://127.0.0.1:<port>/slack/events")
        # or Socket Mode (the default when EmulatorConfig.request_url is unset):
        #   AsyncSocketModeHandler(app, app_token=slack.app_token).connect_async()
        #   connects through apps.connections.open; close it before the emulator stops.
        root = await slack.post_message(alice, general, f"<@{slack.bot.id}> plot sales",
                                        files=[FileUpload("sales.csv", content=b"a,b\n1,2\n")])
        reply = await slack.wait_for_reply(general, root.ts)
        print("\n".join(slack.render_thread(general, root.ts)))

For the bot's own settings: ``SLACK_API_URL=slack.api_url``, ``SLACK_BOT_TOKEN=slack.bot_token``,
``SLACK_APP_TOKEN=slack.app_token`` (Socket Mode) or ``SLACK_SIGNING_SECRET=slack.signing_secret``.

Driver, playing the people (all ``async``; users and channels as objects or ids)::

    post_message(user, channel, text="", *, thread_ts=None, files=None, blocks=None,
                 reply_broadcast=False) -> Message         # message (+ app_mention), file_share
    edit_message(user, channel, ts, text) -> Message       # message_changed
    delete_message(user, channel, ts)                      # message_deleted
    add_reaction / remove_reaction(user, channel, ts, name)   # reaction_added / _removed
    join_channel(user, channel, *, inviter=None)  leave_channel(user, channel)
    invite_bot(channel, *, by)                    # member_joined_channel
    remove_bot(channel, *, by)                    # member_left_channel + channel_left/group_left
    archive_channel(channel, *, by)               # channel_archive / group_archive
    delete_channel(channel, *, by)                # channel_deleted / group_deleted
    uninstall()                                   # tokens revoked; app_uninstalled, tokens_revoked
    slash_command(user, channel, text="", *, command="/interpreter") -> Delivery   # after the ack
    press_button(user, channel, ts, action_id, *, value=None) -> Delivery         # block_actions
    redeliver(delivery, *, retry_num=1, reason="http_timeout") -> Attempt
    disconnect_socket(reason="refresh_requested", *, close_after=5.0) -> int
    verify_url() -> bool                          # url_verification challenge over HTTP

Set-up and switches: ``add_user(name, *, real_name, is_bot, external)``,
``add_channel(name, *, kind="public"|"private"|"im"|"mpim", members, bot=True, ext_shared)``,
``open_dm(user)``, ``use_http(url)``, ``use_socket_mode()``, ``retry`` (a :class:`RetryPolicy`),
``scopes`` (a mutable set), ``signing_secret`` (settable: sign with a wrong one),
``rate_limit(method, *, times, retry_after)``, ``fail(method, error, *, times, status)``,
``refuse_set_status(error)``, ``redirect_downloads()``, ``delay_shares(seconds)``.

Looking and waiting: ``api_calls(method)``, ``deliveries(kind=, type=)``,
``deliveries_about(channel, ts)``, ``download_requests``, ``response_url_posts``,
``socket_mode`` (``connections``, ``frames``, ``pings_answered``), ``thread(channel, root_ts,
viewer=)``, ``render_thread``, ``timeline``, ``render_timeline``, ``ephemeral_messages(user)``,
``thread_status``, ``file_info(file_id)``; ``wait_for(predicate, timeout=)``,
``wait_for_reply(channel, thread_ts, after=, contains=, matching=, viewer=)``,
``wait_for_api_call(method)``, ``wait_for_socket_connection()``, ``settle()``.

Deliveries run in the background; in Socket Mode they wait for a connection. Each
:class:`Delivery` records every :class:`Attempt` (transport, retry number and reason, status or
outcome, headers sent, envelope id, ack body).

The parts, one module each: ``config``; ``models``/``workspace`` (state and visibility);
``wire`` (JSON shapes); ``events`` (which events a change produces); ``api_core`` (tokens,
scopes, params from query/form/JSON, injected faults, call record) with ``api_chat``,
``api_read``, ``api_files``; ``downloads``; ``dispatcher`` with ``http_delivery`` and
``socket_mode``; ``interactions`` (commands, buttons, ``response_url``); ``driver``, ``observe``,
``render``.
"""

from .config import DEFAULT_BOT_EVENTS, DEFAULT_SCOPES, EmulatorConfig, RetryPolicy
from .emulator import SlackEmulator
from .models import Channel, ChannelKind, FileUpload, Message, StoredFile, User
from .records import ApiCall, Attempt, Delivery, DownloadRequest, ResponseUrlPost

__all__ = [
    "DEFAULT_BOT_EVENTS",
    "DEFAULT_SCOPES",
    "ApiCall",
    "Attempt",
    "Channel",
    "ChannelKind",
    "Delivery",
    "DownloadRequest",
    "EmulatorConfig",
    "FileUpload",
    "Message",
    "ResponseUrlPost",
    "RetryPolicy",
    "SlackEmulator",
    "StoredFile",
    "User",
]
