"""The emulator's knobs, as one immutable value passed to :class:`FoundryEmulator`.

The clock is injectable so tests can age containers and tokens without sleeping; every
timestamp the emulator hands out (``created_at``, token expiry) is read from it, so a test that
moves the clock past ``token_lifetime_s`` sees its tokens expire too, as it would in real life.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MiB = 1024 * 1024


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated Foundry project behaves; the defaults mirror the real service's limits."""

    #: Project name in the endpoint path ``/api/projects/<project>``.
    project: str = "demo"
    #: A container expires this long after it was last used (Foundry: 30 minutes).
    idle_timeout_s: float = 1800.0
    #: A container expires this long after it was created, used or not (Foundry: 1 hour).
    max_age_s: float = 3600.0
    #: Lifetime of the bearer tokens the identity endpoint issues.
    token_lifetime_s: float = 3600.0
    #: Extra latency added to every response, so benchmarks and cancel tests have time to act.
    model_delay_s: float = 0.0
    #: Wall-clock limit for one code cell; a cell that hits it takes its container's kernel down with it.
    run_timeout_s: float = 60.0
    #: Address-space limit for a container's kernel, shared by its cells (the smallest Foundry tier is 1 GB).
    run_memory_mb: int = 1024
    #: Largest accepted upload (Foundry: 512 MB).
    max_file_bytes: int = 512 * MiB
    #: Seconds since the epoch; replace it to make time pass in tests.
    clock: Callable[[], float] = field(default=time.time)

    def __post_init__(self) -> None:
        if not self.project or "/" in self.project:
            raise ValueError(f"project must be a non-empty path segment, got {self.project!r}")
        for name in ("idle_timeout_s", "max_age_s", "token_lifetime_s", "run_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.model_delay_s < 0:
            raise ValueError("model_delay_s must not be negative")
        if self.run_memory_mb < 0 or self.max_file_bytes < 0:
            raise ValueError("run_memory_mb and max_file_bytes must not be negative")

    def now(self) -> int:
        """The clock in whole seconds, the unit of every ``created_at`` on the wire."""
        return int(self.clock())
