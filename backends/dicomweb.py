"""What every DICOMweb client backend shares (pure, no HTTP library): the URLs of STOW-RS, QIDO-RS and WADO-RS
(PS3.18 10.4-10.6), the files a ``stow`` sends (non-DICOM files of a folder skipped), the multipart/related
body a STOW sends and a streaming splitter for the one a WADO answers (RFC 2046 5.1), the reading of a STOW
response (PS3.18 10.5.3), the folder a ``wado`` writes into, and the contract's errors.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode

from dcmharness.backends.network import StoreFile, list_store_files, read_store_file
from dcmharness.backends.outputs import OutputPlan, OutputTarget, temp_for
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.dicomweb_models import QidoOptions, WadoOptions
from dcmharness.contract.errors import ErrorCode, HarnessError

DICOM_MEDIA = "application/dicom"
DICOM_JSON = "application/dicom+json"
#: Characters of a body an http_error quotes at most.
BODY_EXCERPT = 300
#: Headers of one multipart part, at most (bytes); parts of a WADO answer, at most.
MAX_PART_HEADERS = 16 * 1024
MAX_PARTS = 100_000


# -- errors --------------------------------------------------------------------------------------------------
def network_error(message: str) -> HarnessError:
    return HarnessError(ErrorCode.NETWORK_ERROR, message[:1000], "options.url")


def http_error(status: int, method: str, url: str, body: bytes | str) -> HarnessError:
    """``http_error``: the status, the request and an excerpt of the body (Orthanc's JSON message as is)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    excerpt = " ".join(text.split())[:BODY_EXCERPT]
    return HarnessError(
        ErrorCode.HTTP_ERROR,
        f"HTTP {status} from {method} {url}" + (f": {excerpt}" if excerpt else " (empty body)"),
        "options.url",
    )


# -- URLs ----------------------------------------------------------------------------------------------------
def _uid(value: str) -> str:
    return quote(value, safe="")


def stow_url(base: str, study_uid: str | None = None) -> str:
    return base.rstrip("/") + "/studies" + (f"/{_uid(study_uid)}" if study_uid else "")


def qido_path(opts: QidoOptions) -> str:
    """The resource path of a QIDO search (PS3.18 Table 10.6.1-2)."""
    leaf = {"study": "studies", "series": "series", "instance": "instances"}[opts.level]
    if opts.level == "study":
        return "/studies"
    prefix = ""
    if opts.study_uid:
        prefix += f"/studies/{_uid(opts.study_uid)}"
    if opts.series_uid:
        prefix += f"/series/{_uid(opts.series_uid)}"
    return f"{prefix}/{leaf}"


def qido_params(opts: QidoOptions) -> list[tuple[str, str]]:
    """The query parameters: matching keys, then includefield for each ``""`` key, limit, fuzzymatching."""
    params = [(k, v) for k, v in opts.query.items() if v != ""]
    params += [("includefield", k) for k, v in opts.query.items() if v == ""]
    if opts.limit is not None:
        params.append(("limit", str(opts.limit)))
    if opts.fuzzymatching:
        params.append(("fuzzymatching", "true"))
    return params


def qido_url(opts: QidoOptions) -> str:
    q = urlencode(qido_params(opts), safe="*?,")
    return opts.url.rstrip("/") + qido_path(opts) + (f"?{q}" if q else "")


def wado_url(opts: WadoOptions) -> str:
    url = opts.url.rstrip("/") + f"/studies/{_uid(opts.study_uid)}"
    if opts.series_uid:
        url += f"/series/{_uid(opts.series_uid)}"
    if opts.sop_instance_uid:
        url += f"/instances/{_uid(opts.sop_instance_uid)}"
    return url


def wado_accept(transfer_syntax_uid: str) -> str:
    """The Accept header of a WADO-RS instance retrieval (PS3.18 8.7.3.5.2): ``*`` asks for the stored syntax."""
    return f'multipart/related; type="{DICOM_MEDIA}"; transfer-syntax={transfer_syntax_uid}'


# -- stow: the files -----------------------------------------------------------------------------------------
@dataclass
class StowInput(InputInfo):
    """The input of a ``stow``: the file or folder, the DICOM files it sends, the files it skips (why)."""

    files: list[StoreFile] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def stow_input(path: Path) -> StowInput:
    """Every file a ``stow`` of ``path`` sends (headers read); a non-DICOM file of a folder is skipped (named in
    ``skipped``), a single non-DICOM file is ``not_dicom``; a folder without any DICOM file is ``not_dicom``."""
    files: list[StoreFile] = []
    skipped: list[dict[str, str]] = []
    paths = list_store_files(path)  # a file, or every regular file under the folder (hidden entries skipped)
    for p in paths:
        try:
            files.append(read_store_file(p))
        except HarnessError as exc:
            if path.is_file():
                raise
            skipped.append({"file": str(p), "reason": exc.message[:300]})
    if not files:
        raise HarnessError(ErrorCode.NOT_DICOM, f"no DICOM file under {path} ({len(skipped)} skipped)", "input")
    size = sum(f.path.stat().st_size for f in files)
    return StowInput(
        path=path, dataset=None, transfer_syntax=None, has_pixel_data=False, size_bytes=size, files=files,
        skipped=skipped,
    )


def batches(files: list[StoreFile], limit_bytes: int) -> list[list[StoreFile]]:
    """The files in order, grouped into requests of at most ``limit_bytes`` (a larger file alone). Pure but
    for the file sizes."""
    out: list[list[StoreFile]] = []
    current: list[StoreFile] = []
    size = 0
    for f in files:
        n = f.path.stat().st_size
        if current and size + n > limit_bytes:
            out.append(current)
            current, size = [], 0
        current.append(f)
        size += n
    if current:
        out.append(current)
    return out


def new_boundary() -> str:
    return f"dcmharness-{secrets.token_hex(16)}"


def stow_content_type(boundary: str) -> str:
    return f'multipart/related; type="{DICOM_MEDIA}"; boundary={boundary}'


def multipart_chunks(paths: list[Path], boundary: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The multipart/related body of a STOW (RFC 2387), one ``application/dicom`` part per file, the files'
    bytes as they are; streamed (never a whole file in memory)."""
    for p in paths:
        yield f"--{boundary}\r\nContent-Type: {DICOM_MEDIA}\r\n\r\n".encode("ascii")
        with open(p, "rb") as fh:
            while block := fh.read(chunk):
                yield block
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")


def multipart_length(paths: list[Path], boundary: str) -> int:
    """The byte length of ``multipart_chunks`` (a Content-Length instead of chunked transfer encoding)."""
    head = len(f"--{boundary}\r\nContent-Type: {DICOM_MEDIA}\r\n\r\n") + 2
    return sum(head + p.stat().st_size for p in paths) + len(f"--{boundary}--\r\n")


# -- stow: the answer ----------------------------------------------------------------------------------------
_REFERENCED = "00081199"
_FAILED = "00081198"
_CLASS = "00081150"
_INSTANCE = "00081155"
_RETRIEVE_URL = "00081190"
_FAILURE_REASON = "00081197"
_WARNING_REASON = "00081196"


def _first(item: dict[str, Any], tag: str) -> Any:
    values = item.get(tag, {}).get("Value") if isinstance(item.get(tag), dict) else None
    return values[0] if isinstance(values, list) and values else None


def stow_statuses(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """SOP Instance UID -> {"status", "sop_class_uid", "retrieve_url", "failure_reason", "warning_reason"} from a
    STOW response (DICOM JSON, PS3.18 Table 10.5.3-2): Referenced SOP Sequence = stored, Failed SOP Sequence =
    failed (Failure Reason as hex, PS3.4 B.2.3). Pure."""
    out: dict[str, dict[str, Any]] = {}
    for tag, status in ((_REFERENCED, "stored"), (_FAILED, "failed")):
        element = response.get(tag)
        items = element.get("Value", []) if isinstance(element, dict) else []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            uid = _first(item, _INSTANCE)
            if not isinstance(uid, str):
                continue
            entry: dict[str, Any] = {"status": status, "sop_class_uid": _first(item, _CLASS)}
            if (url := _first(item, _RETRIEVE_URL)) is not None:
                entry["retrieve_url"] = url
            for key, rtag in (("failure_reason", _FAILURE_REASON), ("warning_reason", _WARNING_REASON)):
                reason = _first(item, rtag)
                if isinstance(reason, int):
                    entry[key] = f"0x{reason:04X}"
            out[uid] = entry
    return out


def instance_rows(files: list[StoreFile], statuses: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per file sent: its UIDs, transfer syntax and what the server said of it (``not_reported`` when
    the response names it in neither sequence). Pure."""
    rows = []
    for f in files:
        said = statuses.get(f.sop_instance_uid, {})
        row: dict[str, Any] = {
            "file": str(f.path),
            "sop_class_uid": f.sop_class_uid,
            "sop_instance_uid": f.sop_instance_uid,
            "transfer_syntax": f.transfer_syntax,
            "status": said.get("status", "not_reported"),
        }
        for key in ("failure_reason", "warning_reason", "retrieve_url"):
            if key in said:
                row[key] = said[key]
        rows.append(row)
    return rows


# -- wado: the multipart answer ------------------------------------------------------------------------------
def boundary_of(content_type: str) -> str | None:
    """The boundary parameter of a multipart Content-Type (quoted or not). Pure."""
    m = re.search(r'(?i)boundary\s*=\s*(?:"([^"]+)"|([^;,\s]+))', content_type)
    return (m.group(1) or m.group(2)) if m else None


def is_multipart_related(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/related"


@dataclass
class Part:
    headers: dict[str, str]
    path: Path
    size: int = 0


class MultipartSplitter:
    """Splits a multipart body fed in chunks into parts, each written to a file ``open_part()`` gives (bounded
    memory: the buffer holds at most one chunk and a delimiter). ``finish()`` checks the closing delimiter."""

    def __init__(self, boundary: str, open_part: Callable[[int], tuple[Path, IO[bytes]]]) -> None:
        self.delimiter = b"\r\n--" + boundary.encode("latin-1")
        self.open_part = open_part
        self.parts: list[Part] = []
        self._buf = b"\r\n"  # so that a delimiter at the very start is found like the others
        self._state = "preamble"
        self._out: IO[bytes] | None = None
        self.closed = False

    def feed(self, data: bytes) -> None:
        self._buf += data
        while self._step():
            pass

    def _step(self) -> bool:
        if self._state == "preamble":
            i = self._buf.find(self.delimiter)
            if i < 0:
                self._buf = self._buf[-len(self.delimiter) :]
                return False
            self._buf = self._buf[i + len(self.delimiter) :]
            self._state = "after_delimiter"
            return True
        if self._state == "after_delimiter":
            if len(self._buf) < 2:
                return False
            if self._buf.startswith(b"--"):
                self._state, self.closed, self._buf = "epilogue", True, b""
                return False
            eol = self._buf.find(b"\r\n")
            if eol < 0:
                if len(self._buf) > 1024:
                    raise ValueError("no line end after a multipart delimiter")
                return False
            if self._buf[:eol].strip(b" \t"):
                raise ValueError("text after a multipart delimiter")
            self._buf = self._buf[eol + 2 :]
            self._state = "headers"
            return True
        if self._state == "headers":
            end = self._buf.find(b"\r\n\r\n")
            if self._buf.startswith(b"\r\n"):
                end, skip = 0, 2
            else:
                skip = 4
            if end < 0:
                if len(self._buf) > MAX_PART_HEADERS:
                    raise ValueError("multipart part headers longer than 16 KiB")
                return False
            headers = _parse_headers(self._buf[:end].decode("latin-1"))
            self._buf = self._buf[end + skip :]
            if len(self.parts) >= MAX_PARTS:
                raise ValueError(f"more than {MAX_PARTS} parts")
            path, self._out = self.open_part(len(self.parts))
            self.parts.append(Part(headers, path))
            self._state = "body"
            return True
        if self._state == "body":
            assert self._out is not None
            i = self._buf.find(self.delimiter)
            if i < 0:
                keep = len(self.delimiter) - 1
                if len(self._buf) > keep:
                    self._write(self._buf[:-keep])
                    self._buf = self._buf[-keep:]
                return False
            self._write(self._buf[:i])
            self._out.close()
            self._out = None
            self._buf = self._buf[i + len(self.delimiter) :]
            self._state = "after_delimiter"
            return True
        self._buf = b""  # epilogue: ignored
        return False

    def _write(self, data: bytes) -> None:
        assert self._out is not None
        self._out.write(data)
        self.parts[-1].size += len(data)

    def finish(self) -> list[Part]:
        if self._out is not None:
            self._out.close()
            self._out = None
        if not self.closed:
            raise ValueError("the multipart answer ended before its closing delimiter")
        return self.parts

    def abort(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None


def _parse_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


# -- wado: the output folder ---------------------------------------------------------------------------------
class RetrievalPlan(OutputPlan):
    """The output of a ``wado``: a folder whose files are known only once the answer is read. The backend
    writes each part to a temp file in the folder (``part_temp``) and names it (``add``); the dispatcher's
    commit moves them all into place or none (``OutputPlan.commit``); the folder, when the preparer created
    it, is removed again if it stays empty."""

    folder: Path
    created: Path | None = None

    def __init__(self, folder: Path, overwrite: bool, created: Path | None) -> None:
        super().__init__(targets=[], overwrite=overwrite)
        self.folder = folder
        self.created = created
        self.loose: list[Path] = []

    def part_temp(self, index: int) -> Path:
        temp = self.folder / f".part-{index:06d}.dcmharness-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        self.loose.append(temp)
        return temp

    def add(self, name: str, temp: Path) -> Path:
        """``temp`` becomes ``<folder>/<name>``: ``output_exists`` when that file exists (and not overwrite) or
        when two parts carry one name."""
        final = self.folder / name
        if any(t.final == final for t in self.targets):
            raise HarnessError(ErrorCode.BACKEND_FAILED, f"the answer holds {name} twice", "output")
        if final.is_dir() or (final.exists() and not self.overwrite):
            raise HarnessError(
                ErrorCode.OUTPUT_EXISTS, f'output exists: {final} (set "overwrite": true to replace it)', "output"
            )
        planned = temp_for(final)
        os.replace(temp, planned)
        self.loose = [p for p in self.loose if p != temp]
        self.targets.append(OutputTarget(final=final, temp=planned))
        return final

    def discard(self) -> None:
        super().discard()
        for p in self.loose:
            with contextlib.suppress(OSError):
                p.unlink()
        self.loose = []
        if self.created is not None:
            with contextlib.suppress(OSError):
                self.created.rmdir()

    def commit(self) -> list[str]:
        for p in self.loose:
            with contextlib.suppress(OSError):
                p.unlink()
        return super().commit()


def safe_name(sop_instance_uid: str) -> str:
    """The file name of a retrieved instance: ``<SOP Instance UID>.dcm`` (a UID that is not one: refused)."""
    if not re.match(r"^[0-9]+(\.[0-9]+)*$", sop_instance_uid) or len(sop_instance_uid) > 64:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED, f"a retrieved part has no valid SOP Instance UID ({sop_instance_uid[:80]!r})"
        )
    return f"{sop_instance_uid}.dcm"


def part_identity(path: Path) -> dict[str, Any]:
    """SOP Instance/Class UID and transfer syntax of a received part (a Part 10 file); ``backend_failed``."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"])
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"a retrieved part is not a DICOM file: {exc}"[:300]) from None
    meta = getattr(ds, "file_meta", None)
    return {
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "") or ""),
        "sop_class_uid": str(ds.get("SOPClassUID", "") or ""),
        "transfer_syntax": str(meta.get("TransferSyntaxUID", "")) if meta is not None else "",
    }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
