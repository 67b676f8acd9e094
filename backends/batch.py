"""The batch protocol of backends that run many prepared requests in one tool process.

A JVM or a worker process costs far more to start than one request costs to run, so a backend may
implement ``execute_batch(jobs)``: every job is a request already validated, its input inspected and its
outputs planned (the dispatcher's work, ``dcmharness.interface.batch.run_batch``); the backend writes each
job's outputs to its plan's temp files and answers one result per job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.models import ToImageRequest

#: What ``execute_batch`` answers per job: its outcome, or the error that job met.
JobResult = Outcome | HarnessError


@dataclass
class Job:
    """One prepared request: validated, input inspected, outputs planned, ``check`` passed."""

    request: ToImageRequest
    info: InputInfo
    plan: OutputPlan
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class BatchBackend(Protocol):
    def execute_batch(self, jobs: Sequence[Job]) -> list[JobResult]:
        """One result per job, in order; every job's outputs written to its plan's temp files."""
        ...
