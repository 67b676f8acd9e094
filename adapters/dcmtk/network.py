"""dcmtk's DICOM network ops: ``echo`` (``echoscu``), ``store`` (``storescu``, every file over one association),
``find`` (``findscu -X``: the responses extracted to a temporary folder and read back) and ``get`` (``getscu``:
the instances written into the get's hidden incoming folder, renamed ``<SOP Instance UID>.dcm``).

The argv is a pure function (``network_argv``); the tools run with ``-d`` (debug log) and their log is parsed
(pure functions, golden-tested): the A-ASSOCIATE-AC PDU's hex dump gives each accepted presentation context's
transfer syntax UID, the context listing its abstract syntax (a dcmtk name such as ``=CTImageStorage``,
resolved through pydicom's UID dictionary), each ``C-STORE RSP`` block the context used and the ``DIMSE
Status``. Facts (dcmtk 3.6.7, Debian 12, observed against the harness's pynetdicom SCP):

- ``-to``/``-ta``/``-td`` (connection, ACSE and DIMSE timeouts) take whole seconds: a fractional
  ``options.timeout`` is refused.
- ``echoscu`` proposes Implicit VR Little Endian only; ``storescu -R`` proposes, for each SOP class of the
  files, the file's own transfer syntax and the uncompressed ones (two contexts per SOP class): neither can be
  told to propose a list, so ``transfer_syntaxes`` is refused. storescu sends in the transfer syntax its
  ``-x?`` flag prefers, converting the other files (see ``proposal_flags``): an Explicit VR file stored with
  ``-xs`` goes as Implicit VR (``sent_transfer_syntax`` in the result says so).
- Failures print ``F: Association Rejected:`` / ``F: Result: Rejected Permanent, Source: Service User`` /
  ``F: Reason: Called AE Title Not Recognized``; ``F: Association Request Failed: 0006:031c TCP
  Initialization Error: Connection refused``; ``... 0006:031a DUL network read timeout``; exit status 1.
- ``storescu`` stops at the first unsuccessful store (its default ``--halt``), as python_ref does.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from typing import Any, TypeVar

from dcmharness.adapters.base import Capability, ToolAdapter
from dcmharness.adapters.runner import ToolError, ToolRun, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.network import (
    AssociationRejected,
    Rejection,
    StoreInput,
    dimse_failure,
    network_error,
    status_category,
    status_entry,
)
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import (
    TRANSFER_SYNTAXES,
    EchoRequest,
    FindRequest,
    GetRequest,
    NetworkOptions,
    StoreRequest,
)

NETWORK_OPS = ("echo", "store", "find", "get")
#: findscu's information model flags (``-W``, worklist, is its default: always given).
FIND_MODEL_FLAGS = {"study_root": "-S", "patient_root": "-P"}
VERIFICATION = "1.2.840.10008.1.1"
#: The longest argv of a store (the files are given one by one); a larger folder is refused before running.
MAX_ARGV_BYTES = 1 << 20


def network_capabilities() -> dict[str, dict[str, Capability]]:
    """What dcmtk honours of the network options (for ``dcmharness backends``)."""
    caps: dict[str, Capability] = {
        "host": True,
        "port": True,
        "called_aet": True,
        "calling_aet": True,
        "timeout": _whole_seconds,
        "transfer_syntaxes": False,
    }
    find_caps: dict[str, Capability] = {**caps, "level": True, "model": True, "query": True}
    get_caps: dict[str, Capability] = {**find_caps, "transfer_syntaxes": _one_preferred}
    return {"echo": dict(caps), "store": dict(caps), "find": find_caps, "get": get_caps}


#: getscu's flag preferring one transfer syntax for the instances it receives (it then proposes that one
#: first and the uncompressed ones after it): contract transfer syntax UID -> flag.
GET_PREFER_FLAGS: dict[str, str] = {
    "1.2.840.10008.1.2.1": "+xe",
    "1.2.840.10008.1.2.1.99": "+xd",
    "1.2.840.10008.1.2.5": "+xr",
    "1.2.840.10008.1.2.4.70": "+xs",
    "1.2.840.10008.1.2.4.80": "+xt",
    "1.2.840.10008.1.2.4.90": "+xv",
    "1.2.840.10008.1.2.4.50": "+xy",
    "1.2.840.10008.1.2.4.81": "+xu",
    "1.2.840.10008.1.2.4.91": "+xw",
}


def _one_preferred(value: Any, options: Any) -> str | None:
    """one transfer syntax (getscu's +x? flag), not implicit VR LE (3.6.7's +xi proposes explicit VR LE)"""
    if value is None:
        return None
    if len(value) != 1:
        return (
            "getscu prefers ONE transfer syntax for the instances it receives (its +x? flag), then proposes the "
            "uncompressed ones: give one"
        )
    if value[0] == "implicit_vr_little_endian":
        return (
            "getscu 3.6.7's +xi ('accept implicit VR little endian TS only') proposes Explicit VR Little Endian "
            "only for the instances received: implicit VR cannot be asked for"
        )
    return None


def get_argv(tool: str, request: GetRequest, outdir: str) -> list[str]:
    """The argv of getscu: the instances written into ``outdir`` (``-od``), the keys as ``-k``. Pure."""
    opts = request.options
    seconds = str(math.ceil(opts.timeout))
    argv = [tool, "-d", "-aet", opts.calling_aet, "-aec", opts.called_aet]
    argv += ["-to", seconds, "-ta", seconds, "-td", seconds, FIND_MODEL_FLAGS[opts.model], "-od", outdir]
    if opts.transfer_syntaxes is not None:
        argv.append(GET_PREFER_FLAGS[TRANSFER_SYNTAXES[opts.transfer_syntaxes[0]]])
    argv += ["-k", f"QueryRetrieveLevel={opts.level.upper()}"]
    for key, value in opts.query.items():
        argv += ["-k", f"{key}={value}"]
    return [*argv, opts.host, str(opts.port)]


def get_final(text: str) -> tuple[int, dict[str, int]] | None:
    """The final C-GET status and sub-operation counts getscu logged (the last C-GET RSP that is not pending),
    or None. Pure."""
    final = None
    for block in re.findall(r"Message Type\s*: C-GET RSP\n(.*?)END DIMSE MESSAGE", text, re.S):
        m = re.search(r"DIMSE Status\s*:\s*0x([0-9A-Fa-f]{4})", block)
        if not m or status_category(int(m.group(1), 16)) == "pending":
            continue
        counts = {}
        for name in ("remaining", "completed", "failed", "warning"):
            c = re.search(rf"{name.title()} Suboperations\s*:\s*(\d+)", block)
            counts[name] = int(c.group(1)) if c else 0
        final = (int(m.group(1), 16), counts)
    return final


def _whole_seconds(value: Any, options: Any) -> str | None:
    """whole seconds (dcmtk's -to/-ta/-td are integers)"""
    return None if float(value).is_integer() else f"timeout {value} s: dcmtk's -to/-ta/-td take whole seconds"


#: A compressed (or deflated) transfer syntax -> the storescu flag that proposes it and prefers it.
PROPOSE_FLAGS: dict[str, str] = {
    "1.2.840.10008.1.2.4.70": "-xs",
    "1.2.840.10008.1.2.4.50": "-xy",
    "1.2.840.10008.1.2.4.51": "-xx",
    "1.2.840.10008.1.2.4.90": "-xv",
    "1.2.840.10008.1.2.4.91": "-xw",
    "1.2.840.10008.1.2.4.80": "-xt",
    "1.2.840.10008.1.2.4.81": "-xu",
    "1.2.840.10008.1.2.5": "-xr",
    "1.2.840.10008.1.2.1.99": "-xd",
}
UNCOMPRESSED = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")


def proposal_flags(info: StoreInput) -> list[str]:
    """storescu's proposal flag for these files: none when all are uncompressed; the one flag of their single
    compressed transfer syntax otherwise. storescu sends every file in the transfer syntax it prefers (the flag's)
    when the peer accepts it, converting the others: uncompressed ones it re-encodes, compressed ones it would
    have to decode, which 3.6.7 fails ("DIMSE Failed to send message"). So two compressed transfer syntaxes in
    one store, or one without a flag, are refused before running (``unsupported_option``, field ``input``). Pure."""
    compressed = sorted({f.transfer_syntax for f in info.files if f.transfer_syntax not in UNCOMPRESSED})
    if not compressed:
        return []
    if len(compressed) > 1 or compressed[0] not in PROPOSE_FLAGS:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            "dcmtk: storescu prefers one transfer syntax per run and would have to decode the files in the others "
            f"(it cannot); these files are in {', '.join(compressed)}: store each transfer syntax separately",
            "input",
        )
    return [PROPOSE_FLAGS[compressed[0]]]


def check_network(request: RequestBase, info: InputInfo | None) -> list[str]:
    """Refuse, before running, what echoscu / storescu cannot honour."""
    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    reason = _whole_seconds(opts.timeout, opts)
    if reason:
        raise unsupported("timeout", f"dcmtk: {reason}")
    if isinstance(request, GetRequest):
        reason = _one_preferred(opts.transfer_syntaxes, opts)
        if reason:
            raise unsupported("transfer_syntaxes", f"dcmtk: {reason}")
        return []
    if opts.transfer_syntaxes is not None:
        what = (
            "echoscu proposes Implicit VR Little Endian only"
            if isinstance(request, EchoRequest)
            else ("storescu -R proposes each file's transfer syntax and the uncompressed ones")
        )
        raise unsupported("transfer_syntaxes", f"dcmtk cannot be given the transfer syntaxes to propose ({what})")
    if isinstance(request, StoreRequest) and isinstance(info, StoreInput):
        proposal_flags(info)
        size = sum(len(os.fsencode(str(f.path))) + 1 for f in info.files)
        if size > MAX_ARGV_BYTES:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION,
                f"dcmtk: {len(info.files)} files make a storescu command line of {size} bytes (limit "
                f"{MAX_ARGV_BYTES}): store fewer files per request",
                "input",
            )
    return []


def network_argv(tool: str, request: RequestBase, info: InputInfo | None) -> list[str]:
    """The argv of echoscu / storescu (``tool``: the path of that binary). Pure."""
    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    seconds = str(math.ceil(opts.timeout))
    argv = [tool, "-d", "-aet", opts.calling_aet, "-aec", opts.called_aet]
    argv += ["-to", seconds, "-ta", seconds, "-td", seconds]
    if isinstance(request, FindRequest):
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "find's argv needs its output folder: use find_argv")
    if isinstance(request, StoreRequest):
        if not isinstance(info, StoreInput):
            raise HarnessError(ErrorCode.INTERNAL_ERROR, "store without its prepared input")
        files = (os.path.abspath(str(f.path)) for f in info.files)
        return [*argv, "-R", *proposal_flags(info), opts.host, str(opts.port), *files]
    return [*argv, opts.host, str(opts.port)]


def find_argv(tool: str, request: FindRequest, outdir: str) -> list[str]:
    """The argv of findscu: the responses extracted as ``outdir/rspNNNN.dcm`` (``-X -od``). Pure."""
    opts = request.options
    seconds = str(math.ceil(opts.timeout))
    argv = [tool, "-d", "-aet", opts.calling_aet, "-aec", opts.called_aet]
    argv += ["-to", seconds, "-ta", seconds, "-td", seconds, FIND_MODEL_FLAGS[opts.model], "-X", "-od", outdir]
    argv += ["-k", f"QueryRetrieveLevel={opts.level.upper()}"]
    for key, value in opts.query.items():
        argv += ["-k", f"{key}={value}"]
    return [*argv, opts.host, str(opts.port)]


# -- parsing the debug log (pure) ----------------------------------------------------------------------------

_HEX_LINE = re.compile(r"^D:\s+((?:[0-9a-f]{2}\s*)+)$")


def pdu_after(text: str, header: str) -> bytes | None:
    """The bytes of the PDU dcmtk dumps in hex after the line containing ``header`` (e.g. "PDU Type: Associate
    Accept"), header included. Pure."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if header in line:
            data = bytearray()
            for follow in lines[i + 1 :]:
                m = _HEX_LINE.match(follow.rstrip())
                if not m:
                    break
                data += bytes(int(b, 16) for b in m.group(1).split())
            return bytes(data)
    return None


def accepted_transfer_syntaxes(pdu: bytes) -> dict[int, str]:
    """Context ID -> transfer syntax UID of each accepted presentation context of an A-ASSOCIATE-AC PDU
    (PS3.8 9.3.3: 6-byte header, 68 fixed bytes, then items; 0x21 = presentation context, sub-item 0x40). Pure."""
    out: dict[int, str] = {}
    if len(pdu) < 74 or pdu[0] != 0x02:
        return out
    pos = 74
    while pos + 4 <= len(pdu):
        item, length = pdu[pos], int.from_bytes(pdu[pos + 2 : pos + 4], "big")
        body = pdu[pos + 4 : pos + 4 + length]
        if item == 0x21 and len(body) >= 4:
            context_id, result = body[0], body[2]
            sub = body[4:]
            if result == 0 and len(sub) >= 4 and sub[0] == 0x40:
                ts_len = int.from_bytes(sub[2:4], "big")
                out[context_id] = sub[4 : 4 + ts_len].rstrip(b"\x00 ").decode("ascii", "replace")
        pos += 4 + length
    return out


def uid_of(name: str) -> str:
    """The UID of a dcmtk name (``=CTImageStorage``, ``=VerificationSOPClass``) or the UID dcmtk printed. Pure."""
    from pydicom._uid_dict import UID_dictionary

    bare = name.strip().lstrip("=")
    if re.fullmatch(r"[0-9.]+", bare):
        return bare
    keywords = {entry[4]: uid for uid, entry in UID_dictionary.items() if entry[4]}
    service = re.match(r"(FIND|MOVE|GET)(.+)", bare)  # dcmtk: FINDStudyRoot...Model, pydicom: StudyRoot...ModelFind
    moved = f"{service.group(2)}{service.group(1).title()}" if service else bare
    for candidate in (bare, bare.removesuffix("SOPClass"), moved):
        if candidate in keywords:
            return str(keywords[candidate])
    return name.strip()


def accepted_contexts(text: str) -> list[dict[str, str]]:
    """The accepted presentation contexts of the association dcmtk logged: abstract syntax (from the
    A-ASSOCIATE-AC listing) and transfer syntax (from the A-ASSOCIATE-AC PDU). Pure."""
    pdu = pdu_after(text, "PDU Type: Associate Accept")
    syntaxes = accepted_transfer_syntaxes(pdu or b"")
    block = text.split("BEGIN A-ASSOCIATE-AC", 1)[-1].split("END A-ASSOCIATE-AC", 1)[0]
    out: list[dict[str, str]] = []
    for m in re.finditer(r"Context ID:\s+(\d+) \(Accepted\)\s*\n.*?Abstract Syntax:\s*(\S+)", block):
        context_id = int(m.group(1))
        if context_id in syntaxes:
            out.append({"abstract_syntax": uid_of(m.group(2)), "transfer_syntax": syntaxes[context_id]})
    return out


def _context_map(text: str) -> dict[int, str]:
    return accepted_transfer_syntaxes(pdu_after(text, "PDU Type: Associate Accept") or b"")


_RESULTS = {"rejected permanent": 1, "rejected transient": 2}
_REASONS = {
    (1, "noreasongiven"): 1,
    (1, "applicationcontextnamenotsupported"): 2,
    (1, "callingaetitlenotrecognized"): 3,
    (1, "calledaetitlenotrecognized"): 7,
    (2, "noreasongiven"): 1,
    (2, "protocolversionnotsupported"): 2,
    (3, "temporarycongestion"): 1,
    (3, "locallimitexceeded"): 2,
}


def parse_rejection(text: str) -> Rejection | None:
    """The A-ASSOCIATE-RJ dcmtk printed ("Result: Rejected Permanent, Source: Service User" / "Reason: Called
    AE Title Not Recognized"), or None. Pure."""
    m = re.search(r"Result:\s*([^,\n]+),\s*Source:\s*([^\n]+)\n[A-Z]: Reason:\s*([^\n]+)", text)
    if not m:
        return None
    result = _RESULTS.get(m.group(1).strip().lower(), 0)
    source_text = m.group(2).lower()
    source = 1 if "user" in source_text else 2 if "acse" in source_text else 3 if "presentation" in source_text else 0
    reason_key = re.sub(r"[^a-z]", "", m.group(3).lower())
    return Rejection(result, source, _REASONS.get((source, reason_key), 0))


def store_responses(text: str) -> list[tuple[str, int, int]]:
    """(file, presentation context ID, DIMSE status) of each C-STORE response storescu logged, in order. Pure."""
    out: list[tuple[str, int, int]] = []
    current = ""
    incoming = False
    context_id = 0
    status: int | None = None
    for line in text.splitlines():
        if line.startswith("I: Sending file: "):
            current = line.removeprefix("I: Sending file: ").strip()
        elif "INCOMING DIMSE MESSAGE" in line:
            incoming, context_id, status = True, 0, None
        elif incoming and "Presentation Context ID" in line:
            context_id = int(line.rsplit(":", 1)[1])
        elif incoming and "DIMSE Status" in line:
            m = re.search(r"0x([0-9A-Fa-f]{4})", line)
            status = int(m.group(1), 16) if m else None
        elif incoming and "END DIMSE MESSAGE" in line:
            if status is not None:
                out.append((current, context_id, status))
            incoming = False
    return out


def find_statuses(text: str) -> list[int]:
    """Every DIMSE status findscu logged after sending its request, in order (the last is the final one). Pure."""
    tail = text.split("Sending Find Request", 1)[-1] if "Sending Find Request" in text else ""
    return [int(m.group(1), 16) for m in re.finditer(r"DIMSE Status\s*:\s*0x([0-9A-Fa-f]{4})", tail)]


def echo_status(text: str) -> int | None:
    """The C-ECHO status echoscu logged ("Received Echo Response (Success)" or "(Status: 0x...)"). Pure."""
    m = re.search(r"Received Echo Response \(([^)]*)\)", text)
    if not m:
        return None
    if m.group(1) == "Success":
        return 0x0000
    hexed = re.search(r"0x([0-9A-Fa-f]{4})", m.group(1))
    return int(hexed.group(1), 16) if hexed else None


def failure_of(text: str, opts: NetworkOptions) -> HarnessError | None:
    """The contract error a failed echoscu / storescu run means, from its log. Pure."""
    where = f"{opts.host}:{opts.port}"
    rejection = parse_rejection(text)
    if rejection is not None:
        return AssociationRejected(rejection, opts.called_aet)
    m = re.search(r"Association Request Failed: ([^\n]+)", text)
    if m:
        return network_error(f"no association with {where}: {m.group(1).strip()}")
    if "No Acceptable Presentation Contexts" in text or "no presentation context for" in text.lower():
        line = next(
            (ln for ln in text.splitlines() if "presentation context" in ln.lower() and ln[:2] in ("E:", "F:")), ""
        )
        return dimse_failure(f"{where} accepted no presentation context for the request: {line[3:].strip()}")
    for marker in ("peer aborted association", "association aborted", "dul network read timeout", "network"):
        found = next((ln for ln in text.splitlines() if marker in ln.lower() and ln[:2] in ("E:", "F:")), None)
        if found:
            return network_error(f"{where}: {found[3:].strip()}")
    return None


def log_text(run: ToolRun) -> str:
    """All the tool printed (its log goes to stderr; ``ToolRun.stderr_text`` is trimmed)."""
    return run.stdout_text + "\n" + run.stderr.decode("utf-8", "replace")


def _peer(opts: NetworkOptions) -> dict[str, Any]:
    return {"host": opts.host, "port": opts.port, "called_aet": opts.called_aet, "calling_aet": opts.calling_aet}


def echo_result(run: ToolRun, request: EchoRequest) -> dict[str, Any]:
    """The result of an echoscu run, or the contract error. Pure (apart from the run's recorded output)."""
    text = log_text(run)
    status = echo_status(text)
    if status is None:
        raise failure_of(text, request.options) or _failed(run)
    entry = status_entry(status)
    if status_category(status) not in ("success", "warning"):
        raise dimse_failure(f"C-ECHO status {entry['status']}: {entry['meaning']}")
    contexts = accepted_contexts(text)
    return {
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "peer": _peer(request.options),
        "accepted_contexts": contexts,
        "transfer_syntax": next((c["transfer_syntax"] for c in contexts if c["abstract_syntax"] == VERIFICATION), None),
        "timings_ms": {"total": round(run.seconds * 1000, 3)},
    }


def store_result(run: ToolRun, request: StoreRequest, info: StoreInput) -> dict[str, Any]:
    """The result of a storescu run, or the contract error (the first failure status names its file)."""
    text = log_text(run)
    responses = store_responses(text)
    by_path = {os.path.abspath(str(f.path)): f for f in info.files}
    syntaxes = _context_map(text)
    instances: list[dict[str, Any]] = []
    worst = 0
    for path, context_id, status in responses:
        entry = status_entry(status)
        if entry["category"] not in ("success", "warning"):
            raise dimse_failure(f"C-STORE of {path}: status {entry['status']} ({entry['meaning']})")
        if entry["category"] == "warning" and worst == 0:
            worst = status
        f = by_path.get(path)
        instances.append(
            {
                "file": str(f.path) if f else path,
                "sop_instance_uid": f.sop_instance_uid if f else None,
                "transfer_syntax": f.transfer_syntax if f else None,
                "sent_transfer_syntax": syntaxes.get(context_id),
                "status": entry["status"],
                "status_meaning": entry["meaning"],
            }
        )
    if len(instances) < len(info.files) or run.returncode != 0:
        raise failure_of(text, request.options) or _failed(run)
    entry = status_entry(worst)
    return {
        "files": len(info.files),
        "stored": len(instances),
        "warnings": sum(1 for i in instances if i["status"] != "0x0000"),
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "peer": _peer(request.options),
        "accepted_contexts": accepted_contexts(text),
        "instances": instances,
        "bytes": info.size_bytes,
        "timings_ms": {"total": round(run.seconds * 1000, 3)},
    }


def find_result(run: ToolRun, request: FindRequest, outdir: str) -> dict[str, Any]:
    """The result of a findscu run: the final status and the extracted responses as DICOM JSON, in order."""
    import pydicom

    from dcmharness.backends.network import json_of

    text = log_text(run)
    statuses = find_statuses(text)
    if not statuses or status_category(statuses[-1]) == "pending":
        raise failure_of(text, request.options) or _failed(run)
    entry = status_entry(statuses[-1])
    if entry["category"] not in ("success", "warning"):
        raise dimse_failure(f"C-FIND status {entry['status']}: {entry['meaning']}")
    files = sorted((p for p in os.listdir(outdir) if re.fullmatch(r"rsp\d+\.dcm", p)), key=lambda p: int(p[3:-4]))
    matches = [json_of(pydicom.dcmread(os.path.join(outdir, p))) for p in files]
    pending = sum(1 for s in statuses if status_category(s) == "pending")
    if len(matches) != pending:
        raise _failed(run)
    return {
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "level": request.options.level,
        "model": request.options.model,
        "count": len(matches),
        "matches": matches,
        "peer": _peer(request.options),
        "accepted_contexts": accepted_contexts(text),
        "timings_ms": {"total": round(run.seconds * 1000, 3)},
    }


def get_result(run: ToolRun, request: GetRequest, plan: Any) -> dict[str, Any]:
    """The result of a getscu run: the final status, the counts, each instance received (renamed in the incoming
    folder to ``<SOP Instance UID>.dcm``, as python_ref names them)."""
    from dcmharness.backends.network import instance_file_name, received_file, retrieve_status_entry

    text = log_text(run)
    final = get_final(text)
    if final is None:
        raise failure_of(text, request.options) or _failed(run)
    value, counts = final
    entry = retrieve_status_entry(value)
    if entry["category"] not in ("success", "warning"):
        raise dimse_failure(
            f"C-GET status {entry['status']}: {entry['meaning']} (sub-operations: {counts['completed']} completed, "
            f"{counts['failed']} failed)"
        )
    files = []
    for path in plan.received():
        described = received_file(path)
        name = instance_file_name(described["sop_instance_uid"])
        os.replace(path, path.with_name(name))
        files.append({"file": str(plan.folder / name), **described})
    files.sort(key=lambda f: f["file"])
    return {
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "level": request.options.level,
        "model": request.options.model,
        "sub_operations": counts,
        "count": len(files),
        "files": files,
        "peer": _peer(request.options),
        "accepted_contexts": [
            c
            for c in accepted_contexts(text)
            if c["abstract_syntax"] in {f["sop_class_uid"] for f in files}
            or c["abstract_syntax"].startswith("1.2.840.10008.5.1.4.1.2.")
        ],
        "bytes": sum(p.stat().st_size for p in plan.received()),
        "timings_ms": {"total": round(run.seconds * 1000, 3)},
    }


def _failed(run: ToolRun) -> ToolError:
    lines = [ln for ln in run.stderr_text.splitlines() + run.stdout_text.splitlines() if ln[:2] in ("E:", "F:")]
    return ToolError(
        ErrorCode.BACKEND_FAILED,
        f"{os.path.basename(run.argv[0])} failed (exit status {run.returncode}): "
        + (lines[-1][3:] if lines else "no message"),
        run.argv,
        run.stderr_text or None,
    )


def execute_network(
    adapter: ToolAdapter, request: RequestBase, info: InputInfo | None, plan: OutputPlan | None = None
) -> Outcome:
    """Run echoscu / storescu / findscu / getscu (found next to the main dcmtk binary, else on PATH) through the
    shared runner."""
    from dcmharness.adapters.base import sibling
    from dcmharness.backends.network import RetrievePlan

    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dcmtk: tool not found", "backend")
    if isinstance(request, GetRequest):
        if not isinstance(plan, RetrievePlan):
            raise HarnessError(ErrorCode.INTERNAL_ERROR, "get without its output folder")
        argv = get_argv(sibling(tool, "getscu"), request, str(plan.incoming))
        run = run_tool(argv, timeout=request.timeout)
        try:
            return Outcome(result=get_result(run, request, plan), command=argv, stderr=_log_tail(run))
        except HarnessError as exc:
            exc.command = argv  # type: ignore[attr-defined]
            exc.stderr = _log_tail(run)  # type: ignore[attr-defined]
            raise
    if isinstance(request, FindRequest):
        with tempfile.TemporaryDirectory(prefix="dcmharness-findscu-") as outdir:
            argv = find_argv(sibling(tool, "findscu"), request, outdir)
            run = run_tool(argv, timeout=request.timeout)
            try:
                return Outcome(result=find_result(run, request, outdir), command=argv, stderr=_log_tail(run))
            except HarnessError as exc:
                exc.command = argv  # type: ignore[attr-defined]
                exc.stderr = _log_tail(run)  # type: ignore[attr-defined]
                raise
    name = "storescu" if isinstance(request, StoreRequest) else "echoscu"
    argv = network_argv(sibling(tool, name), request, info)
    run = run_tool(argv, timeout=request.timeout)
    try:
        if isinstance(request, StoreRequest):
            assert isinstance(info, StoreInput)
            result = store_result(run, request, info)
        else:
            assert isinstance(request, EchoRequest)
            result = echo_result(run, request)
    except HarnessError as exc:
        exc.command = argv  # type: ignore[attr-defined]
        exc.stderr = _log_tail(run)  # type: ignore[attr-defined]
        raise
    return Outcome(result=result, command=argv, stderr=_log_tail(run))


def _log_tail(run: ToolRun) -> str | None:
    """The tool's I:/W:/E:/F: lines (its debug lines stay out of the response)."""
    lines = [ln for ln in (log_text(run)).splitlines() if ln[:2] in ("W:", "E:", "F:")]
    return "\n".join(lines)[-4000:] or None


T = TypeVar("T", bound=ToolAdapter)


def with_network(cls: type[T]) -> type[T]:
    """Class decorator for dcmtk's adapter: adds echo and store; delegates everything else."""

    class WithNetwork(cls):  # type: ignore[valid-type,misc]
        ops = (*cls.ops, *(op for op in NETWORK_OPS if op not in cls.ops))

        def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
            table: dict[str, dict[str, Capability]] = dict(super().capabilities_for(version))
            table.update(network_capabilities())
            return table

        def check(self, request: RequestBase, info: InputInfo | None) -> list[str]:
            if getattr(request, "op", "") not in NETWORK_OPS:
                warnings: list[str] = super().check(request, info)
                return warnings
            return check_network(request, info)

        def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
            if getattr(request, "op", "") not in NETWORK_OPS:
                outcome: Outcome = super().execute(request, info, plan)
                return outcome
            return execute_network(self, request, info, plan)

    WithNetwork.__name__ = cls.__name__
    WithNetwork.__qualname__ = cls.__qualname__
    WithNetwork.__module__ = cls.__module__
    WithNetwork.__doc__ = cls.__doc__
    return WithNetwork  # type: ignore[return-value]
