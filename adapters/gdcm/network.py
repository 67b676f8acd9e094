"""GDCM's DICOM network client: ``echo`` and ``store`` with ``gdcmscu`` (``--echo``, ``--store -i FILE ...``),
run with ``-D`` (its debug log, the only place it prints the DIMSE statuses) and parsed (pure functions,
golden-tested from recorded logs). Facts (gdcm 3.0.21, Debian 12, observed against the harness's pynetdicom SCP):

- ``gdcmscu`` aborts at the end of every run that reached an association, successful or not ("terminate
  called after throwing an instance of 'gdcm::Exception' ... ProtocolStream as nullptr is invalid", SIGABRT,
  exit status 134): success is read from the log (the C-ECHO / C-STORE response's ``(0000,0900)`` Status),
  never from the exit status. A closed port aborts the same way before any PDU: ``network_error``.
- It has no timeout option: the run is bounded by ``options.timeout`` per network step (``run_bound``).
- ``--echo`` proposes Implicit VR Little Endian only; ``--store`` proposes one context per (SOP Class, the
  file's own transfer syntax), IDs 1, 3, 5, ... in file order (``PresentationContextGenerator::AddFromFile``,
  GDCM Source/MessageExchangeDefinition/gdcmPresentationContextGenerator.cxx), and sends the files as they
  are: ``transfer_syntaxes`` is refused. The A-ASSOCIATE-AC it prints carries no abstract syntax: the
  adapter maps the accepted IDs back to the contexts it knows gdcmscu proposed.
- ``--find``: gdcmscu 3.0.21 leaves stdout empty (also under a pty and ``stdbuf -o0``; "C-Find was
  successful." and the pending statuses appear in the debug log, the identifiers nowhere) and aborts, so
  ``find`` is not offered (``gdcmscu --find --studyroot --image --call MY-SCP 127.0.0.1 PORT --key 8,18=UID``).
  GDCM's library call does no better: python-gdcm 3.2.6's ``CompositeNetworkFunctions.CFind`` against the same
  SCP aborted the Python process with the same exception before returning the answers (exit status 134).
- A rejection prints ``Result: rejected-permanent`` / ``Source: ...`` / ``Reason: 7 - called-AE-title-not-
  recognized``; against pynetdicom (source 1, service user) it prints "DICOM UL service-provider (ACSE related
  function)", so the source is taken from the reason (PS3.8 Table 9-21 gives each reason one source).
- The calling AE title is ``--aetitle`` (default GDCMSCU), the called ``--call``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from dcmharness.adapters.base import Capability
from dcmharness.adapters.network_client import (
    NETWORK_CAPS,
    VERIFICATION,
    NetworkClient,
    instance_entry,
    peer_of,
    run_bound,
    store_summary,
)
from dcmharness.adapters.runner import ToolError, ToolRun, run_tool
from dcmharness.backends.base import Outcome
from dcmharness.backends.network import (
    REJECT_REASONS,
    AssociationRejected,
    Rejection,
    StoreFile,
    StoreInput,
    dimse_failure,
    network_error,
    status_category,
    status_entry,
)
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import EchoRequest, NetworkOptions, StoreRequest

GDCM_NETWORK_OPS = ("echo", "store")
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
#: The longest argv of a store (``-i`` per file); a larger folder is refused before running.
MAX_ARGV_BYTES = 1 << 20


def gdcm_network_capabilities() -> dict[str, dict[str, Capability]]:
    return {"echo": dict(NETWORK_CAPS), "store": dict(NETWORK_CAPS)}


def gdcmscu_argv(tool: str, request: RequestBase, info: InputInfo | None) -> list[str]:
    """The argv of gdcmscu for an echo or a store (``tool``: its path). Pure."""
    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    argv = [tool, "-D", "--aetitle", opts.calling_aet, "--call", opts.called_aet]
    if isinstance(request, StoreRequest):
        if not isinstance(info, StoreInput):
            raise HarnessError(ErrorCode.INTERNAL_ERROR, "store without its prepared input")
        files = [x for f in info.files for x in ("-i", os.path.abspath(str(f.path)))]
        return [*argv, "--store", *files, opts.host, str(opts.port)]
    return [*argv, "--echo", opts.host, str(opts.port)]


def proposed_contexts(files: list[StoreFile]) -> dict[int, tuple[str, str]]:
    """Context ID -> (SOP Class, transfer syntax) gdcmscu proposes for these files: one per distinct pair, in
    file order, IDs 1, 3, 5, ... (gdcmPresentationContextGenerator.cxx ``AddPresentationContext``). Pure."""
    pairs: list[tuple[str, str]] = []
    for f in files:
        pair = (f.sop_class_uid, f.transfer_syntax)
        if pair not in pairs:
            pairs.append(pair)
    return {2 * i + 1: pair for i, pair in enumerate(pairs)}


def check_gdcm_network(adapter: Any, request: RequestBase, info: InputInfo | None) -> list[str]:
    if isinstance(request, StoreRequest) and isinstance(info, StoreInput):
        if len(proposed_contexts(info.files)) > 128:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION,
                "gdcm: these files need more than 128 presentation contexts (one per SOP class and transfer "
                "syntax): store fewer kinds of file per request",
                "input",
            )
        size = sum(len(os.fsencode(str(f.path))) + 4 for f in info.files)
        if size > MAX_ARGV_BYTES:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION,
                f"gdcm: {len(info.files)} files make a gdcmscu command line of {size} bytes (limit {MAX_ARGV_BYTES})",
                "input",
            )
    return []


# -- parsing the -D log (pure) -------------------------------------------------------------------------------

_STATUS = re.compile(r"^\(0000,0900\) \?\? \(US\) (\d+)", re.M)


def accepted_ids(text: str) -> dict[int, str]:
    """Context ID -> transfer syntax of each accepted context of the first A-ASSOCIATE-AC gdcmscu printed. Pure."""
    block = text.split("List of PresentationContextAC:", 1)
    if len(block) < 2:
        return {}
    body = block[1].split("User Information:", 1)[0]
    out: dict[int, str] = {}
    for m in re.finditer(r"ID: (\d+)\s*\nResult: (\d+)\s*\nTransferSyntax: Name: ([0-9.]+)", body):
        if m.group(2) == "0":
            out[int(m.group(1))] = m.group(3)
    return out


def rejection_of(text: str) -> Rejection | None:
    """The A-ASSOCIATE-RJ gdcmscu printed, or None; the source is the one PS3.8 gives the reason. Pure."""
    m = re.search(r"Result: ([a-z-]+)\s*\nSource: [^\n]*\nReason: (\d+) - ([A-Za-z-]+)", text)
    if not m:
        return None
    result = {"rejected-permanent": 1, "rejected-transient": 2}.get(m.group(1), 0)
    diagnostic, reason = int(m.group(2)), m.group(3)
    source = next((s for (s, d), name in REJECT_REASONS.items() if d == diagnostic and name == reason), 0)
    return Rejection(result, source, diagnostic)


def echo_status(text: str) -> int | None:
    """The C-ECHO response's status (the first ``(0000,0900)`` after the association), or None. Pure."""
    m = _STATUS.search(text)
    return int(m.group(1)) if m else None


def store_statuses(text: str) -> list[tuple[str, int]]:
    """(file, status) of each C-STORE response, in order: the first Status after each "Processing: FILE". Pure."""
    out: list[tuple[str, int]] = []
    parts = re.split(r"^Processing: (.+)$", text, flags=re.M)
    for path, body in zip(parts[1::2], parts[2::2], strict=True):
        m = _STATUS.search(body)
        if m:
            out.append((path.strip(), int(m.group(1))))
    return out


def failure_of(text: str, opts: NetworkOptions) -> HarnessError:
    """The contract error of a gdcmscu run that gave no status. Pure."""
    where = f"{opts.host}:{opts.port}"
    rejection = rejection_of(text)
    if rejection is not None:
        return AssociationRejected(rejection, opts.called_aet)
    if "PDU code: 2" not in text:
        return network_error(
            f"no association with {where}: gdcmscu got no A-ASSOCIATE answer (refused, closed or unreachable; "
            "gdcmscu does not say which)"
        )
    if not accepted_ids(text):
        return dimse_failure(f"{where} accepted no presentation context for the request")
    if "PDU code: 7" in text:
        return network_error(f"{where} aborted the association (A-ABORT)")
    return network_error(f"{where}: the association ended without a response (gdcmscu log: {_last_line(text)})")


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("Debug:", "Last system error"))]
    return lines[-1][:200] if lines else "nothing"


def log_tail(run: ToolRun) -> str | None:
    """What gdcmscu printed besides its debug trace (the abort message, "Echo failed.", ...)."""
    noise = (
        "Debug: In ",
        "Last system error",
        "Start RunEventLoop",
        "Before mTransitions",
        "Process: Event",
        "Waiting for ItemType",
        "Received ItemType",
    )
    lines = [ln for ln in log_text(run).splitlines() if ln.strip() and not ln.startswith(noise)]
    return "\n".join(ln for ln in lines if not ln.startswith("(0000,"))[-2000:] or None


def log_text(run: ToolRun) -> str:
    return run.stdout_text + "\n" + run.stderr.decode("utf-8", "replace")


def echo_result(run: ToolRun, request: EchoRequest) -> dict[str, Any]:
    text = log_text(run)
    status = echo_status(text)
    if status is None:
        raise failure_of(text, request.options)
    entry = status_entry(status)
    if status_category(status) not in ("success", "warning"):
        raise dimse_failure(f"C-ECHO status {entry['status']}: {entry['meaning']}")
    accepted = accepted_ids(text)
    contexts = [{"abstract_syntax": VERIFICATION, "transfer_syntax": ts} for cid, ts in accepted.items() if cid == 1]
    return {
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "peer": peer_of(request.options),
        "accepted_contexts": contexts,
        "transfer_syntax": contexts[0]["transfer_syntax"] if contexts else None,
        "timings_ms": {"total": round(run.seconds * 1000, 3)},
    }


def store_result(run: ToolRun, request: StoreRequest, info: StoreInput) -> dict[str, Any]:
    text = log_text(run)
    by_path = {os.path.abspath(str(f.path)): f for f in info.files}
    accepted = accepted_ids(text)
    proposed = proposed_contexts(info.files)
    sent = {pair: accepted.get(cid) for cid, pair in proposed.items()}
    instances: list[dict[str, Any]] = []
    worst = 0
    for path, status in store_statuses(text):
        category = status_category(status)
        if category not in ("success", "warning"):
            entry = status_entry(status)
            raise dimse_failure(f"C-STORE of {path}: status {entry['status']} ({entry['meaning']})")
        if category == "warning" and worst == 0:
            worst = status
        f = by_path.get(path)
        instances.append(instance_entry(f, path, sent.get((f.sop_class_uid, f.transfer_syntax)) if f else None, status))
    if len(instances) < len(info.files):
        missing = info.files[len(instances)].path
        if "PDU code: 7" in text:  # an A-ABORT PDU received
            raise network_error(
                f"{request.options.host}:{request.options.port} aborted the association (A-ABORT) while {missing} "
                "was sent"
            )
        if (instances or accepted) and "Store failed." in text:
            raise dimse_failure(f"gdcmscu could not send {missing} (no accepted context, or unreadable): stopped")
        raise failure_of(text, request.options)
    contexts = [
        {"abstract_syntax": proposed[cid][0], "transfer_syntax": ts} for cid, ts in accepted.items() if cid in proposed
    ]
    result = store_summary(info, request.options, instances, contexts, worst)
    result["timings_ms"] = {"total": round(run.seconds * 1000, 3)}
    return result


def execute_gdcm_network(adapter: Any, request: RequestBase, info: InputInfo | None) -> Outcome:
    from dcmharness.adapters.base import sibling

    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "gdcm: tool not found", "backend")
    argv = gdcmscu_argv(sibling(tool, "gdcmscu"), request, info)
    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    files = len(info.files) if isinstance(info, StoreInput) else 1
    bound = run_bound(request, 1 + files)
    try:
        run = run_tool(argv, timeout=bound)
    except ToolError as exc:
        if exc.code == ErrorCode.TIMEOUT:
            error = network_error(
                f"{opts.host}:{opts.port} did not complete within {bound:g} s (options.timeout {opts.timeout:g} s "
                "per network step; gdcmscu has no timeout of its own and was stopped)"
            )
            error.command = argv  # type: ignore[attr-defined]
            raise error from None
        raise
    try:
        if isinstance(request, StoreRequest):
            assert isinstance(info, StoreInput)
            result = store_result(run, request, info)
        else:
            assert isinstance(request, EchoRequest)
            result = echo_result(run, request)
    except HarnessError as exc:
        exc.command = argv  # type: ignore[attr-defined]
        exc.stderr = log_tail(run)  # type: ignore[attr-defined]
        raise
    warnings = (
        [f"gdcmscu ended with exit status {run.returncode} after the association (it aborts on every run in 3.0.21)"]
        if run.returncode != 0
        else []
    )
    return Outcome(result=result, command=argv, stderr=log_tail(run), warnings=warnings)


GDCM_CLIENT = NetworkClient(GDCM_NETWORK_OPS, gdcm_network_capabilities, check_gdcm_network, execute_gdcm_network)
