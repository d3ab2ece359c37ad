"""Loopback emulators of Slack and Microsoft Foundry, for the demo and for tests."""
