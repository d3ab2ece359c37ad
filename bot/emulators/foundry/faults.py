"""Injected faults: what to break, for which route, how often, and nothing else.

Kept apart from the request pipeline so the bookkeeping (counts, seeded rates) stays
deterministic and testable on its own. A fault with neither ``count`` nor ``rate`` applies to
every matching request until it is cleared.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

FaultKind = Literal["status", "drop", "delay", "response_failed", "stream_error"]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
#: Kinds the request pipeline applies before the handler runs; the others shape a response.
TRANSPORT_KINDS: frozenset[str] = frozenset({"status", "drop", "delay"})


@dataclass(frozen=True)
class Fault:
    """One rule: on requests to ``route``, misbehave in the way ``kind`` says."""

    route: str
    kind: FaultKind
    count: int | None = None
    rate: float | None = None
    seed: int = 0
    status: int | None = None
    retry_after_s: float | None = None
    retry_after_ms: int | None = None
    delay_s: float | None = None
    code: str | None = None
    message: str | None = None
    #: For a ``status`` fault: answer only once the whole request body has been read (a service
    #: that fails after receiving an upload), rather than before reading it.
    after_body: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if self.kind == "status" and (self.status is None or not 400 <= self.status <= 599):
            raise ValueError("a 'status' fault needs status between 400 and 599")
        if self.after_body and self.kind != "status":
            raise ValueError("after_body applies to 'status' faults only")
        if self.kind == "delay" and (self.delay_s is None or self.delay_s < 0):
            raise ValueError("a 'delay' fault needs a non-negative delay_s")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Build a fault from a JSON object, rejecting unknown fields."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def to_json(self) -> dict[str, Any]:
        """The fault as plain JSON."""
        return asdict(self)


@dataclass
class _Armed:
    """A fault plus its remaining budget and its own seeded random stream."""

    fault: Fault
    remaining: int | None
    rng: random.Random = field(repr=False)

    def fires(self) -> bool:
        if self.remaining == 0:
            return False
        if self.fault.rate is not None and self.rng.random() >= self.fault.rate:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class FaultRegistry:
    """The faults armed on one emulator; ``take`` decides, per request, whether one fires."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def add(self, fault: Fault) -> None:
        """Arm a fault; faults are consulted in the order they were added."""
        self._armed.append(_Armed(fault, fault.count, random.Random(fault.seed)))

    def clear(self) -> None:
        """Disarm every fault."""
        self._armed.clear()

    def active(self) -> list[Fault]:
        """Faults that may still fire."""
        return [armed.fault for armed in self._armed if armed.remaining != 0]

    def take(self, route: str, kinds: frozenset[str]) -> Fault | None:
        """The fault to apply to this request to ``route``, if any, spending one of its uses."""
        for armed in self._armed:
            if armed.fault.route == route and armed.fault.kind in kinds and armed.fires():
                return armed.fault
        return None

    def __len__(self) -> int:
        return len(self.active())
