"""What the DICOM network clients of other toolkits share (gdcm, Orthanc, ...): the class decorator that adds
``echo``/``store``/``find`` to an adapter (capabilities, the refusals before running, the run), the bound of an
external client's whole run, and the result skeletons python_ref's and dcmtk's results have.

A toolkit's module gives a ``NetworkClient``: the ops it implements, its capability table, ``check`` (what it
refuses before running: ``unsupported_option`` naming the field) and ``execute``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from dcmharness.adapters.base import Capability, ToolAdapter
from dcmharness.adapters.runner import DEFAULT_TIMEOUT
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.network import StoreFile, StoreInput, status_entry
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import NetworkOptions

VERIFICATION = "1.2.840.10008.1.1"
NETWORK_CAPS: dict[str, Capability] = {
    "host": True,
    "port": True,
    "called_aet": True,
    "calling_aet": True,
    "timeout": True,
    "transfer_syntaxes": False,
}
FIND_CAPS: dict[str, Capability] = {"level": True, "model": True, "query": True}


@dataclass(frozen=True)
class NetworkClient:
    """A toolkit's client side: which ops, what it honours, what it refuses, how it runs."""

    ops: tuple[str, ...]
    capabilities: Callable[[], dict[str, dict[str, Capability]]]
    check: Callable[[Any, RequestBase, InputInfo | None], list[str]]
    execute: Callable[[Any, RequestBase, InputInfo | None], Outcome]
    #: what the client holds beyond the adapter's own (a worker process), released in the adapter's close()
    close: Callable[[Any], None] | None = None


def run_bound(request: RequestBase, steps: int) -> float:
    """Seconds an external client without its own network timeouts may run: ``options.timeout`` per network
    step (connect + associate, then one per DIMSE exchange), never more than the request's ``timeout``. Pure."""
    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    whole = request.timeout if request.timeout is not None else DEFAULT_TIMEOUT
    return float(min(whole, opts.timeout * max(2, steps)))


def check_network_options(options: Any, caps: dict[str, Capability], backend: str) -> None:
    """``unsupported_option`` for a network option set that ``caps`` does not honour (``False``: only its
    default; a tuple: those values; a function: its refusal reason). ``port`` is required, so the shared
    ``check_capabilities`` (which builds the default options) does not apply."""
    for name, field in type(options).model_fields.items():
        value = getattr(options, name)
        cap = caps.get(name, False)
        if cap is True:
            continue
        if cap is False:
            if value != field.default:
                raise unsupported(name, f"{backend} cannot honour {name}={value!r}")
        elif isinstance(cap, tuple):
            if value not in cap:
                raise unsupported(name, f"{backend} cannot honour {name}={value!r} (supported: {cap!r})")
        else:
            reason = cap(value, options)
            if reason:
                raise unsupported(name, f"{backend}: {reason}")


def peer_of(opts: NetworkOptions) -> dict[str, Any]:
    return {"host": opts.host, "port": opts.port, "called_aet": opts.called_aet, "calling_aet": opts.calling_aet}


def instance_entry(f: StoreFile | None, path: str, sent: str | None, status: int) -> dict[str, Any]:
    """One file of a store result (``instances`` item): the file, its UID and syntax, as sent, the status. Pure."""
    entry = status_entry(status)
    return {
        "file": str(f.path) if f else path,
        "sop_instance_uid": f.sop_instance_uid if f else None,
        "transfer_syntax": f.transfer_syntax if f else None,
        "sent_transfer_syntax": sent,
        "status": entry["status"],
        "status_meaning": entry["meaning"],
    }


def store_summary(
    info: StoreInput, opts: NetworkOptions, instances: list[dict[str, Any]], contexts: list[dict[str, str]], worst: int
) -> dict[str, Any]:
    """A store result as python_ref's and dcmtk's: counts, the worst status, the peer, the instances. Pure."""
    entry = status_entry(worst)
    return {
        "files": len(info.files),
        "stored": len(instances),
        "warnings": sum(1 for i in instances if i["status"] != "0x0000"),
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "peer": peer_of(opts),
        "accepted_contexts": contexts,
        "instances": instances,
        "bytes": info.size_bytes,
    }


T = TypeVar("T", bound=ToolAdapter)


def with_client(client: NetworkClient) -> Callable[[type[T]], type[T]]:
    """Class decorator: adds ``client.ops`` to an adapter; every other op goes to the adapter as before."""

    def decorate(cls: type[T]) -> type[T]:
        class WithClient(cls):  # type: ignore[valid-type,misc]
            ops = (*cls.ops, *(op for op in client.ops if op not in cls.ops))

            def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
                table: dict[str, dict[str, Capability]] = dict(super().capabilities_for(version))
                table.update(client.capabilities())
                return table

            def check(self, request: RequestBase, info: InputInfo | None) -> list[str]:
                op = getattr(request, "op", "")
                if op not in client.ops:
                    warnings: list[str] = super().check(request, info)
                    return warnings
                table = client.capabilities()
                if op not in table:  # pragma: no cover - ops and table come from one module
                    raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"{self.name} does not implement {op!r}", "op")
                check_network_options(request.options, table[op], self.name)  # type: ignore[attr-defined]
                return client.check(self, request, info)

            def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
                if getattr(request, "op", "") not in client.ops:
                    outcome: Outcome = super().execute(request, info, plan)
                    return outcome
                return client.execute(self, request, info)

            def close(self) -> None:
                if client.close is not None:
                    client.close(self)
                super().close()

        WithClient.__name__ = cls.__name__
        WithClient.__qualname__ = cls.__qualname__
        WithClient.__module__ = cls.__module__
        WithClient.__doc__ = cls.__doc__
        return WithClient  # type: ignore[return-value]

    return decorate
