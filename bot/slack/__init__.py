"""The Slack side of the bot: the Web API client, inbound messages, and what the bot posts."""
