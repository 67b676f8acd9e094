"""Reading a DICOM JSON document (PS3.18 F.2) for ``from_json``: checks and bulk data, shared by every backend.

``load_document`` reads the document once (size-capped, strict JSON, one object or an array of one), checks
every element (``check_model``: 8-hex-digit tag keys, a known VR, values shaped as F.2.3 and F.2.5 ask,
base64 that decodes), resolves each ``BulkDataURI`` to a local file inside the document's folder (never a
network fetch), and decides the transfer syntax. A bad document is ``invalid_dicom_json`` with ``field``
``input:<path>`` (``00540016[0].00181071``) before any backend runs, so no backend writes a partial output.

``inlined_model`` gives the document with every bulk value inline (the form handed to external tools).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import TRANSFER_SYNTAXES

MAX_JSON_BYTES = int(os.environ.get("DCMHARNESS_MAX_JSON_BYTES", str(1024**3)))
MAX_BULK_BYTES = int(os.environ.get("DCMHARNESS_MAX_BULK_BYTES", str(1024**3)))
MAX_DEPTH = 64

EXPLICIT_LE = "1.2.840.10008.1.2.1"
#: The native (not encapsulated) transfer syntaxes: Pixel Data is the values themselves.
NATIVE_SYNTAXES = frozenset({"1.2.840.10008.1.2", EXPLICIT_LE, "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"})
#: The first bytes of an encapsulated Pixel Data value: the Basic Offset Table item tag (FFFE,E000), little endian.
ITEM_TAG = b"\xfe\xff\x00\xe0"

BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT"})
#: Text VRs whose one value may hold a backslash (PS3.5 6.2: VM 1, backslash allowed).
SINGLE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UR"})
INT_RANGES: dict[str, tuple[int, int]] = {
    "US": (0, 0xFFFF),
    "SS": (-0x8000, 0x7FFF),
    "UL": (0, 0xFFFFFFFF),
    "SL": (-0x80000000, 0x7FFFFFFF),
    "UV": (0, 0xFFFFFFFFFFFFFFFF),
    "SV": (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF),
    "IS": (-0x80000000, 0x7FFFFFFF),
}
FLOAT_VRS = frozenset({"FL", "FD", "DS"})
ALL_VRS = BINARY_VRS | STRING_VRS | frozenset(INT_RANGES) | FLOAT_VRS | {"AT", "PN", "SQ"}
_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")
_KEY = re.compile(r"^[0-9A-F]{8}$")  # PS3.18 F.2.1.1.2: eight upper-case hexadecimal characters
_ELEMENT_KEYS = frozenset({"vr", "Value", "InlineBinary", "BulkDataURI"})
_PN_KEYS = frozenset({"Alphabetic", "Ideographic", "Phonetic"})


def bad(where: str, message: str) -> HarnessError:
    return HarnessError(ErrorCode.INVALID_DICOM_JSON, message[:400], f"input:{where}" if where else "input")


@dataclass(frozen=True)
class BulkRef:
    """One resolved ``BulkDataURI``: the element's place, the URI, the local file and the byte range."""

    where: str
    uri: str
    file: Path
    offset: int = 0
    length: int | None = None

    def read(self) -> bytes:
        try:
            with self.file.open("rb") as f:
                f.seek(self.offset)
                data = f.read(self.length if self.length is not None else -1)
        except OSError as exc:
            raise HarnessError(
                ErrorCode.INPUT_NOT_FOUND, f"cannot read bulk data {self.uri!r}: {exc}"[:400], f"input:{self.where}"
            ) from None
        if self.length is not None and len(data) != self.length:
            raise bad(self.where, f"bulk data {self.uri!r} has {len(data)} bytes, the URI asks for {self.length}")
        return data


@dataclass
class JsonDocument:
    """A checked DICOM JSON document: the data set's model, its meta elements and where its bulk data is."""

    path: Path
    model: dict[str, Any]  # the data set (no group 0002)
    meta: dict[str, Any]  # the group 0002 elements of the document (may be empty)
    transfer_syntax: str
    meta_from_document: bool
    bulk: dict[int, BulkRef] = field(default_factory=dict)  # id() of the element dict -> its bulk file
    inline_binaries: int = 0

    def bulk_bytes(self, element: dict[str, Any]) -> bytes:
        ref = self.bulk.get(id(element))
        if ref is None:
            raise bad("", "a BulkDataURI was not resolved")
        return ref.read()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def parse_text(data: bytes) -> dict[str, Any]:
    """The data set object of the document's bytes (UTF-8 JSON; an object or an array of exactly one). Pure."""
    try:
        text = data.decode("utf-8-sig")
        doc = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        raise bad("", f"the document is not UTF-8: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise bad("", f"the document is not valid JSON: {exc}") from None
    if isinstance(doc, list):
        if len(doc) != 1:
            raise bad("", f"the document is an array of {len(doc)} data sets; from_json takes exactly one")
        doc = doc[0]
    if not isinstance(doc, dict):
        raise bad("", f"the document is a JSON {type(doc).__name__}, not a DICOM JSON object")
    return doc


def _join(where: str, tag: str) -> str:
    return f"{where}.{tag}" if where else tag


def _check_value(vr: str, value: Any, where: str) -> None:
    """One item of ``Value`` against its VR (PS3.18 F.2.3, F.2.5: null is an empty value). Pure."""
    if value is None:
        return
    if vr in STRING_VRS:
        if not isinstance(value, str):
            raise bad(where, f"a {vr} value must be a string, not {type(value).__name__}")
        if "\\" in value and vr not in SINGLE_TEXT_VRS:
            raise bad(where, f"a {vr} value holds a backslash, the value separator: give each value on its own")
    elif vr == "AT":
        if not isinstance(value, str) or not _TAG.match(value):
            raise bad(where, f"an AT value must be a tag of 8 hex digits, not {value!r:.40}")
    elif vr == "PN":
        if not isinstance(value, dict) or not set(value) <= _PN_KEYS:
            raise bad(where, "a PN value must be an object with Alphabetic, Ideographic or Phonetic")
        for group in value.values():
            if group is not None and not isinstance(group, str):
                raise bad(where, "a PN component group must be a string")
    elif vr in INT_RANGES:
        number = value
        if vr == "IS" and isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise bad(where, f"an IS value must be an integer, not {value!r:.40}") from None
        if isinstance(number, bool) or not isinstance(number, int | float) or int(number) != number:
            raise bad(where, f"a {vr} value must be an integer, not {value!r:.40}")
        lo, hi = INT_RANGES[vr]
        if not lo <= int(number) <= hi:
            raise bad(where, f"the {vr} value {number} is outside {lo}..{hi}")
    elif vr in FLOAT_VRS:
        if vr == "DS" and isinstance(value, str):
            try:
                float(value)
            except ValueError:
                raise bad(where, f"a DS value must be a decimal number, not {value!r:.40}") from None
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(where, f"a {vr} value must be a number, not {value!r:.40}")


def check_model(model: dict[str, Any], where: str = "", depth: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """Check a data set object; return the (place, element) of every ``BulkDataURI`` element. Pure."""
    if depth > MAX_DEPTH:
        raise bad(where, f"sequences nested deeper than {MAX_DEPTH}")
    uris: list[tuple[str, dict[str, Any]]] = []
    for tag, elem in model.items():
        here = _join(where, tag)
        if not _KEY.match(tag):
            raise bad(here, f"the key {tag[:40]!r} is not a tag of 8 upper-case hex digits (PS3.18 F.2.1.1.2)")
        if not isinstance(elem, dict):
            raise bad(here, "an attribute must be an object with a vr")
        extra = set(elem) - _ELEMENT_KEYS
        if extra:
            raise bad(
                here, f"unknown member(s) {sorted(extra)[:3]}: an attribute has vr, Value, InlineBinary, BulkDataURI"
            )
        vr = elem.get("vr")
        if not isinstance(vr, str) or vr not in ALL_VRS:
            raise bad(here, f"the vr {vr!r:.20} is not a VR of PS3.5 Table 6.2-1")
        kinds = [k for k in ("Value", "InlineBinary", "BulkDataURI") if k in elem]
        if len(kinds) > 1:
            raise bad(here, f"an attribute has one of Value, InlineBinary, BulkDataURI, not {kinds}")
        if vr in BINARY_VRS:
            if "Value" in elem:
                raise bad(here, f"a {vr} value is InlineBinary or BulkDataURI, not Value (PS3.18 F.2.3)")
            if "InlineBinary" in elem:
                inline = elem["InlineBinary"]
                if not isinstance(inline, str):
                    raise bad(here, "InlineBinary must be a base64 string")
                try:
                    base64.b64decode(inline, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise bad(here, f"InlineBinary is not base64: {exc}") from None
            if "BulkDataURI" in elem:
                if not isinstance(elem["BulkDataURI"], str) or not elem["BulkDataURI"]:
                    raise bad(here, "BulkDataURI must be a non-empty string")
                uris.append((here, elem))
            continue
        if "InlineBinary" in elem or "BulkDataURI" in elem:
            raise bad(here, f"a {vr} value is given as Value, not as bulk data")
        if "Value" not in elem:
            continue
        values = elem["Value"]
        if not isinstance(values, list):
            raise bad(here, "Value must be an array")
        if vr == "SQ":
            for i, item in enumerate(values):
                if not isinstance(item, dict):
                    raise bad(f"{here}[{i}]", "a sequence item must be an object")
                uris += check_model(item, f"{here}[{i}]", depth + 1)
            continue
        for i, value in enumerate(values):
            _check_value(vr, value, f"{here}[{i}]" if len(values) > 1 else here)
    return uris


def _is_remote(scheme: str) -> bool:
    return scheme not in ("", "file")


def resolve_uri(uri: str, where: str, folder: Path) -> BulkRef:
    """The local file (and byte range) a ``BulkDataURI`` names, confined to ``folder``; never a network fetch."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if len(scheme) == 1 and re.match(r"^[A-Za-z]:", uri):  # a Windows drive letter, not a scheme
        scheme = ""
    if _is_remote(scheme):
        raise HarnessError(
            ErrorCode.REMOTE_BULK_DATA,
            f"BulkDataURI {uri[:200]!r} is a {scheme} location: bulk data is never fetched over a network",
            f"input:{where}.BulkDataURI",
        )
    if parts.netloc not in ("", "localhost"):
        raise HarnessError(
            ErrorCode.REMOTE_BULK_DATA,
            f"BulkDataURI {uri[:200]!r} names host {parts.netloc!r}: only local files are read",
            f"input:{where}.BulkDataURI",
        )
    raw = unquote(parts.path) if scheme == "file" else unquote(uri.split("?", 1)[0])
    query = parse_qs(parts.query) if scheme == "file" or "?" in uri else {}
    try:
        offset = int(query.get("offset", ["0"])[0])
        length = int(query["length"][0]) if "length" in query else None
    except ValueError:
        raise bad(f"{where}.BulkDataURI", f"BulkDataURI {uri[:200]!r}: offset and length must be integers") from None
    if offset < 0 or (length is not None and not 0 <= length <= MAX_BULK_BYTES):
        raise bad(f"{where}.BulkDataURI", f"BulkDataURI {uri[:200]!r}: offset/length out of range")
    path = Path(raw)
    if not path.is_absolute():
        path = folder / path
    real, real_folder = path.resolve(), folder.resolve()
    if real != real_folder and real_folder not in real.parents:
        raise HarnessError(
            ErrorCode.PATH_OUTSIDE_ROOT,
            f"BulkDataURI {uri[:200]!r} is outside the document's folder {str(folder)[:200]}",
            f"input:{where}.BulkDataURI",
        )
    if not real.is_file():
        raise HarnessError(
            ErrorCode.INPUT_NOT_FOUND, f"BulkDataURI {uri[:200]!r}: no such file", f"input:{where}.BulkDataURI"
        )
    size = real.stat().st_size
    if (length if length is not None else size - offset) > MAX_BULK_BYTES:
        raise HarnessError(
            ErrorCode.INPUT_TOO_LARGE,
            f"BulkDataURI {uri[:200]!r}: {size} bytes (limit {MAX_BULK_BYTES}; DCMHARNESS_MAX_BULK_BYTES)",
            f"input:{where}.BulkDataURI",
        )
    if offset + (length or 0) > size:
        raise bad(f"{where}.BulkDataURI", f"BulkDataURI {uri[:200]!r}: the range ends after the file ({size} bytes)")
    return BulkRef(where, uri, real, offset, length)


def _meta_value(meta: dict[str, Any], tag: str) -> str | None:
    values = meta.get(tag, {}).get("Value") or []
    return values[0].strip() if values and isinstance(values[0], str) else None


def choose_transfer_syntax(document_ts: str | None, option: str | None) -> str:
    """The transfer syntax to write: the document's, else the option's, else Explicit VR Little Endian. Pure."""
    if document_ts and option and TRANSFER_SYNTAXES[option] != document_ts:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST,
            f"the document declares transfer syntax {document_ts}; options.transfer_syntax {option} "
            f"({TRANSFER_SYNTAXES[option]}) contradicts it (from_json does not re-encode)",
            "options.transfer_syntax",
        )
    if document_ts:
        return document_ts
    return TRANSFER_SYNTAXES[option] if option else EXPLICIT_LE


def pixel_head(doc: JsonDocument) -> bytes | None:
    """The first 4 bytes of the top-level Pixel Data, or None when there is none."""
    elem = doc.model.get("7FE00010")
    if elem is None:
        return None
    if "InlineBinary" in elem:
        return base64.b64decode(elem["InlineBinary"][:8])[:4]
    if "BulkDataURI" in elem:
        ref = doc.bulk[id(elem)]
        with ref.file.open("rb") as f:
            f.seek(ref.offset)
            return f.read(min(4, ref.length if ref.length is not None else 4))
    return None


def check_pixel_form(head: bytes | None, transfer_syntax: str, declared: bool) -> None:
    """Encapsulated Pixel Data needs an encapsulated transfer syntax, native Pixel Data a native one. Pure."""
    if head is None:
        return
    encapsulated = head[:4] == ITEM_TAG
    if encapsulated and transfer_syntax in NATIVE_SYNTAXES:
        if not declared:
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                "the Pixel Data is encapsulated (compressed: it starts with an item tag) and the document declares "
                "no Transfer Syntax UID (0002,0010): give options.transfer_syntax",
                "options.transfer_syntax",
            )
        raise bad("7FE00010", f"the Pixel Data is encapsulated but the transfer syntax {transfer_syntax} is native")
    if not encapsulated and transfer_syntax not in NATIVE_SYNTAXES:
        raise bad("7FE00010", f"the transfer syntax {transfer_syntax} is encapsulated but the Pixel Data is not")


def load_document(path: Path, transfer_syntax_option: str | None) -> JsonDocument:
    """Read and check the document at ``path``; raise ``HarnessError`` (nothing written) when it is bad."""
    try:
        size = path.stat().st_size
    except OSError:
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"{path} does not exist", "input") from None
    if not path.is_file():
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"{path} is not a file", "input")
    if size > MAX_JSON_BYTES:
        raise HarnessError(
            ErrorCode.INPUT_TOO_LARGE,
            f"{size} bytes of JSON (limit {MAX_JSON_BYTES}; DCMHARNESS_MAX_JSON_BYTES)",
            "input",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"cannot read {path}: {exc}", "input") from None
    whole = parse_text(data)
    uris = check_model(whole)
    meta = {t: e for t, e in whole.items() if t.startswith("0002")}
    model = {t: e for t, e in whole.items() if not t.startswith("0002")}
    if not model:
        raise bad("", "the document has no data set attribute (only file meta, or nothing)")
    document_ts = _meta_value(meta, "00020010")
    tsyntax = choose_transfer_syntax(document_ts, transfer_syntax_option)
    bulk = {id(elem): resolve_uri(elem["BulkDataURI"], where, path.parent) for where, elem in uris}
    inline = _count_inline(whole)
    doc = JsonDocument(path, model, meta, tsyntax, bool(meta), bulk, inline)
    check_pixel_form(pixel_head(doc), tsyntax, declared=bool(document_ts or transfer_syntax_option))
    return doc


def _count_inline(model: dict[str, Any]) -> int:
    n = 0
    for elem in model.values():
        if "InlineBinary" in elem:
            n += 1
        if elem.get("vr") == "SQ":
            n += sum(_count_inline(item) for item in elem.get("Value") or [])
    return n


def map_bulk(model: dict[str, Any], fn: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``model`` with each ``BulkDataURI`` element replaced by ``fn(element)``. Pure given fn."""
    out: dict[str, Any] = {}
    for tag, elem in model.items():
        if "BulkDataURI" in elem:
            out[tag] = fn(elem)
        elif elem.get("vr") == "SQ" and elem.get("Value"):
            out[tag] = {**elem, "Value": [map_bulk(item, fn) for item in elem["Value"]]}
        else:
            out[tag] = elem
    return out


def inlined_model(doc: JsonDocument, with_meta: bool = True) -> dict[str, Any]:
    """The document with every bulk value inline (base64), meta first when asked: the form external tools read."""

    def inline(elem: dict[str, Any]) -> dict[str, Any]:
        return {"vr": elem["vr"], "InlineBinary": base64.b64encode(doc.bulk_bytes(elem)).decode("ascii")}

    body = map_bulk(doc.model, inline)
    return {**map_bulk(doc.meta, inline), **body} if with_meta else body


def externalise(model: dict[str, Any], folder: Path, prefix: str = "bulk", min_bytes: int = 0) -> dict[str, Any]:
    """A copy of ``model`` whose ``InlineBinary`` values (longer than ``min_bytes``) are written as files in
    ``folder`` and referred to by relative ``BulkDataURI``: the by-URI form of a ``dump`` with inline bulk data."""
    counter = [0]

    def walk(m: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for tag, elem in m.items():
            if "InlineBinary" in elem:
                data = base64.b64decode(elem["InlineBinary"])
                if len(data) > min_bytes:
                    counter[0] += 1
                    name = f"{prefix}{counter[0]:04d}_{tag}.bin"
                    (folder / name).write_bytes(data)
                    out[tag] = {"vr": elem["vr"], "BulkDataURI": name}
                    continue
            if elem.get("vr") == "SQ" and elem.get("Value"):
                out[tag] = {**elem, "Value": [walk(item) for item in elem["Value"]]}
            else:
                out[tag] = elem
        return out

    return walk(model)


def write_inlined(doc: JsonDocument, folder: Path, name: str = "document.json") -> Path:
    """The document, every bulk value inline and its meta first, as a file in ``folder`` (for external tools)."""
    path = folder / name
    path.write_text(json.dumps(inlined_model(doc), ensure_ascii=False), encoding="utf-8")
    return path


def verify_written(doc: JsonDocument, path: Path) -> dict[str, Any]:
    """The ``from_json`` result for a file a backend wrote: it must be a Part 10 file in the document's transfer
    syntax (``backend_failed`` otherwise)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not path.is_file() or path.stat().st_size == 0:
        raise HarnessError(ErrorCode.BACKEND_FAILED, "the backend wrote no DICOM file")
    try:
        written = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"the backend wrote an unreadable file: {exc}"[:400]) from None
    tsyntax = str(written.file_meta.get("TransferSyntaxUID", ""))
    if tsyntax != doc.transfer_syntax:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED, f"the backend wrote transfer syntax {tsyntax!r}, not {doc.transfer_syntax}"
        )
    return {
        "attributes": len(doc.model),
        "transfer_syntax": doc.transfer_syntax,
        "meta_from_document": doc.meta_from_document,
        "bulk_data_uris": len(doc.bulk),
        "inline_binaries": doc.inline_binaries,
        "size_bytes": path.stat().st_size,
    }
