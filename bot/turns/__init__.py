"""Turns: queued per thread, run one at a time, streamed from Foundry and answered in Slack."""
