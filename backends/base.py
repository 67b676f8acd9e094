"""What every backend is: the in-process reference and each external-tool adapter alike.

A backend declares whether it is available here (and its version), what it supports (ops and option
values), refuses what it cannot honour *before* anything runs (``check``), and executes a request into
the temporary files of an ``OutputPlan`` (the dispatcher then renames them atomically into place).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dcmharness.contract.errors import ErrorCode, HarnessError

if TYPE_CHECKING:
    from dcmharness.backends.outputs import OutputPlan
    from dcmharness.backends.preflight import InputInfo
    from dcmharness.contract.models import RequestBase


@dataclass(frozen=True)
class Availability:
    available: bool
    version: str | None = None
    reason: str | None = None  # why not available, or where it was found
    location: str | None = None


@dataclass
class Outcome:
    """What a backend hands back for one request."""

    result: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    command: list[str] | None = None
    stderr: str | None = None


class Backend(ABC):
    """Base of python_ref and of every adapter."""

    name: str = ""
    kind: str = "external"  # "in-process", "external" (a command-line tool) or "http" (a server)
    description: str = ""
    #: ops this backend implements
    ops: tuple[str, ...] = ("to_image",)

    @abstractmethod
    def availability(self) -> Availability:
        """Whether the backend can run here, and its version."""

    def capabilities(self) -> dict[str, Any]:
        """A JSON-able description of the ops and options supported (for ``dcmharness backends``)."""
        return {op: {} for op in self.ops}

    def check(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        """Refuse (``unsupported_option``) what cannot be honoured; return warnings. Runs nothing."""
        op = getattr(request, "op", "")
        if op not in self.ops:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION, f"backend {self.name!r} does not implement op {op!r}", "op"
            )
        return []

    @abstractmethod
    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        """Run the request, writing every ``plan`` target's temporary path."""

    def close(self) -> None:
        """Release what the backend holds (servers, batch processes). Idempotent."""


def unsupported(option: str, message: str) -> HarnessError:
    """The error for an option (``options.<name>``) the backend cannot honour."""
    return HarnessError(ErrorCode.UNSUPPORTED_OPTION, message, f"options.{option}")
