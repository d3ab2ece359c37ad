"""A loopback emulator of a Microsoft Foundry project with the Code Interpreter tool.

It serves the REST subset the bot uses (agents, files, conversations, responses with SSE,
containers), an App Service managed-identity token endpoint, a scripted model that really runs
Python in a per-container kernel (variables last across turns, as in the real sandbox), container
expiry, fault injection and live-resource counters, so end-to-end tests and the demo run without a
cloud account.
"""

from bot.emulators.foundry.config import EmulatorConfig
from bot.emulators.foundry.faults import Fault, FaultRegistry
from bot.emulators.foundry.recording import RecordedRequest
from bot.emulators.foundry.server import FoundryEmulator

__all__ = ["EmulatorConfig", "Fault", "FaultRegistry", "FoundryEmulator", "RecordedRequest"]
