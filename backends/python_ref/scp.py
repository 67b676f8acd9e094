"""The harness's own DICOM peer (pynetdicom): Verification, Storage SCP of every storage SOP class in every
transfer syntax pynetdicom knows (each instance written as received, File Meta Information + the data set's
bytes as sent, to ``<store>/<SOP Instance UID>.dcm``), C-FIND SCP and C-GET SCP (patient and study root) over
what it stored. Binds 127.0.0.1 unless told otherwise; rejects associations calling another AE title (A-ASSOCIATE-RJ,
called-AE-title-not-recognized).

Run as its own process (``python -m dcmharness.backends.python_ref.scp --port P --aet A --store DIR``), started
and stopped by PID through ``python_scp()`` or ``dcmharness scp --backend python_ref``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dcmharness.backends.network import FIND_MODELS, GET_MODELS, Peer, free_port, started_peer

#: The unique key of each Query/Retrieve Level (PS3.4 C.6.1.1, C.6.2.1).
LEVEL_KEYS = {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID",
              "IMAGE": "SOPInstanceUID"}  # fmt: skip
RANGE_VRS = ("DA", "TM", "DT")

#: The SCP's address space limit (bytes): a peer sending an absurd data set cannot exhaust the machine.
MEMORY_LIMIT = 4 << 30


def _safe_name(uid: str) -> str:
    cleaned = "".join(c for c in uid if c.isdigit() or c == ".").strip(".")
    return cleaned or "instance"


def value_matches(key: Any, candidate: Any) -> bool:
    """Does a candidate element match one query key (PS3.4 C.2.2.2: universal, single value, wildcard, range,
    list of UIDs)? Pure."""
    import re

    wanted = key.value
    if wanted is None or wanted == "" or (isinstance(wanted, list | tuple) and not wanted):
        return True  # universal matching
    if candidate is None or candidate.value in (None, ""):
        return False
    have = candidate.value
    if key.VR == "UI" and not isinstance(wanted, str):
        return str(have) in {str(w) for w in wanted}  # list of UIDs
    text = str(wanted).strip()
    value = str(have).strip()
    if key.VR in RANGE_VRS and "-" in text:
        lo, hi = text.split("-", 1)
        return (not lo or value >= lo) and (not hi or value <= hi)
    if "*" in text or "?" in text:
        pattern = re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")
        return re.fullmatch(pattern, value, re.DOTALL) is not None
    return value == text


def find_matches(store: Path, identifier: Any) -> Iterator[Any]:
    """The response identifiers of a C-FIND over the instances stored under ``store``, one per distinct entity of
    the level (in file order): the query's keys with the entity's values, the level and its unique key."""
    import pydicom
    from pydicom import Dataset
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    level = str(identifier.get("QueryRetrieveLevel", "")).upper()
    unique = LEVEL_KEYS.get(level)
    if unique is None:
        return
    keys = [elem for elem in identifier if elem.keyword not in ("QueryRetrieveLevel", "SpecificCharacterSet")]
    seen: set[str] = set()
    for path in sorted(store.glob("*.dcm")):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - a file being replaced or not DICOM: not a candidate
            continue
        if not all(value_matches(k, ds.get(k.tag)) for k in keys):
            continue
        entity = str(ds.get(unique, ""))
        if entity in seen:
            continue
        seen.add(entity)
        rsp = Dataset()
        rsp.QueryRetrieveLevel = level
        for k in keys:
            rsp.add_new(k.tag, k.VR, ds[k.tag].value if k.tag in ds else None)
        unique_tag = tag_for_keyword(unique)
        if unique_tag is not None and unique_tag not in rsp:
            rsp.add_new(unique_tag, dictionary_VR(unique_tag), entity)
        yield rsp


def get_files(store: Path, identifier: Any) -> list[Path]:
    """The stored files a C-GET identifier selects (every key matched, PS3.4 C.4.3.2), in file order."""
    import pydicom

    level = str(identifier.get("QueryRetrieveLevel", "")).upper()
    if level not in LEVEL_KEYS:
        return []
    keys = [elem for elem in identifier if elem.keyword not in ("QueryRetrieveLevel", "SpecificCharacterSet")]
    found = []
    for path in sorted(store.glob("*.dcm")):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - a file being replaced or not DICOM: not a candidate
            continue
        if all(value_matches(k, ds.get(k.tag)) for k in keys):
            found.append(path)
    return found


def dataset_to_send(path: Path, accepted: list[tuple[str, str]]) -> Any:
    """The data set of ``path`` to send back on a C-GET association whose accepted SCP-role contexts are
    ``accepted`` ((SOP class, transfer syntax)): as stored when its own transfer syntax was accepted (or an
    uncompressed one, pynetdicom converts between those); decompressed when only uncompressed ones were (and a
    decoder is installed); otherwise as stored (the sub-operation then fails, counted in the final response)."""
    import pydicom
    from pydicom.uid import UID, ExplicitVRLittleEndian

    ds = pydicom.dcmread(path)
    ts = UID(str(ds.file_meta.TransferSyntaxUID))
    offered = [UID(t) for c, t in accepted if c == str(ds.SOPClassUID)]
    if ts in offered:
        return ds
    if not ts.is_compressed:
        return ds  # pynetdicom converts between the little endian ones (not from big endian: the sub-operation fails)
    if any(not t.is_compressed for t in offered):
        with contextlib.suppress(Exception):  # no decoder for it: sent as stored, the sub-operation fails
            ds.decompress(generate_instance_uid=False)  # the same instance, only decoded
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        # pynetdicom picks the context by the encoding the data set was read in
        ds.set_original_encoding(False, True, ds.original_character_set)
    return ds


def serve(host: str, port: int, aet: str, store: Path) -> None:
    """Serve until SIGTERM / SIGINT (blocking)."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, _config, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    # received data sets go to a file as they arrive (never whole in memory), in a hidden folder of the store,
    # and are renamed into place once complete
    _config.STORE_RECV_CHUNKED_DATASET = True
    incoming = store / ".incoming"
    incoming.mkdir(exist_ok=True)
    tempfile.tempdir = str(incoming)

    def on_store(event: Any) -> int:
        uid = _safe_name(str(event.request.AffectedSOPInstanceUID))
        try:
            os.replace(event.dataset_path, store / f"{uid}.dcm")
        except OSError:
            return 0xA700  # Refused: out of resources
        return 0x0000

    ae = AE(ae_title=aet)
    ae.require_called_aet = True
    ae.maximum_pdu_size = 0  # no limit on what we receive per PDU (the peer's choice), as storescp
    # explicit VR little endian first: the acceptor's order decides (pynetdicom), and explicit VR keeps the VRs
    syntaxes = ["1.2.840.10008.1.2.1", *(ts for ts in ALL_TRANSFER_SYNTAXES if ts != "1.2.840.10008.1.2.1")]
    for cx in AllStoragePresentationContexts:
        if cx.abstract_syntax is not None:
            # both roles: a C-GET's requestor takes the SCP role for the instances it receives (PS3.7 D.3.3.4)
            ae.add_supported_context(cx.abstract_syntax, syntaxes, scu_role=True, scp_role=True)
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
    for model in FIND_MODELS.values():
        ae.add_supported_context(model)
    for model in GET_MODELS.values():
        ae.add_supported_context(model)

    def on_find(event: Any) -> Iterator[tuple[int, Any]]:
        for rsp in find_matches(store, event.identifier):
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, rsp

    def on_get(event: Any) -> Iterator[Any]:
        files = get_files(store, event.identifier)
        accepted = [(str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in event.assoc.accepted_contexts
                    if cx.as_scu]  # fmt: skip
        yield len(files)
        for path in files:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, dataset_to_send(path, accepted)

    handlers: list[Any] = [(evt.EVT_C_STORE, on_store), (evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get)]

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)  # before listening: a stop as soon as it listens still cleans up
    server = None
    try:
        server = ae.start_server((host, port), block=False, evt_handlers=handlers)
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if server is not None:
            server.shutdown()
        with contextlib.suppress(OSError):
            incoming.rmdir()


@contextlib.contextmanager
def python_scp(
    store: str | os.PathLike[str], aet: str = "DCMHARNESS-SCP", port: int | None = None, host: str = "127.0.0.1"
) -> Iterator[Peer]:
    """A pynetdicom SCP in its own process, listening on ``host:port`` (a free loopback port by default)."""
    port = port or free_port(host)
    argv = [sys.executable, "-m", "dcmharness.backends.python_ref.scp", "--host", host, "--port", str(port)]
    argv += ["--aet", aet, "--store", str(store)]
    with started_peer(argv, host, port, aet, str(store)) as peer:
        yield peer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--aet", default="DCMHARNESS-SCP")
    parser.add_argument("--store", required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    store = Path(args.store)
    if not store.is_dir():
        print(f"scp: {store} is not a folder", file=sys.stderr)
        return 2
    serve(args.host, args.port, args.aet, store)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
