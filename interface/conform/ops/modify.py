"""modify: a set of modification cases per sample file, every backend's output compared element by element
with python_ref's.

Cases (profile ``modify:<case>``), each built from what the file holds (a case that does not apply to a
file is skipped): ``set`` (modify Patient's Name), ``insert`` (two attributes: Clinical Trial Sponsor Name,
absent from the samples, and Image Comments), ``values`` (IS, a DS pair and a CS pair inserted or
overwritten), ``empty`` (Referring Physician's Name emptied), ``erase`` (Patient's Birth Date: Type 2 in
most IODs, so the warnings are compared too), ``nested`` (a text attribute in the first item of the first
sequence that has one, by a tag path), ``uids`` (Study, Series and SOP Instance UIDs regenerated),
``private`` (a private creator and a private LO element in a free odd group), ``private_existing`` (the
first private LO, SH or CS element the file holds, by its tag).

The comparison: every data set element (recursively into sequences; group lengths ignored), its VR and its
value (text stripped of its padding, DS and IS as numbers, binary values byte for byte, Pixel Data
included); the warnings; the input's digest unchanged. Regenerated UIDs cannot equal the reference's: they
are compared structurally instead (changed, a valid UID by PS3.5 9.1, the File Meta Information's Media
Storage SOP Instance UID equal to the data set's SOP Instance UID). The rest of the File Meta Information
names the writer (Implementation Class UID and Version Name, PS3.10 7.1) and is not compared, apart from
the Transfer Syntax UID.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.ops import verify
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, Run, record, ref_record

MODIFY_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "SC_rgb.dcm",
    "US1_UNCR.dcm",
    "test-SR.dcm",
    "JPEG2000.dcm",
    "emri_small.dcm",
    "rtstruct.dcm",  # a bare data set (no File Meta Information)
    "rtdose.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "waveform_ecg.dcm",
    "liver.dcm",
)
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
#: The value a nested case writes, by VR.
NESTED_VALUES = {"UI": "1.2.826.0.1.3680043.10.543.77", "LO": "DCMHARNESS", "SH": "DCMHARNESS", "CS": "DCMHARNESS"}


def _tag_path(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def nested_target(ds: Any) -> tuple[str, str] | None:
    """(path, value) of the first UI/LO/SH/CS attribute of the first item of the first top-level sequence
    that has one; None when the file has none. Pure (reads ``ds``)."""
    for elem in ds:
        if elem.VR != "SQ" or not elem.value or elem.tag.is_private:
            continue
        for inner in elem.value[0]:
            if inner.VR in NESTED_VALUES and not inner.tag.is_private and inner.tag & 0xFFFF:
                return f"{_tag_path(elem.tag)}[0].{_tag_path(inner.tag)}", NESTED_VALUES[inner.VR]
    return None


def existing_private(ds: Any) -> str | None:
    """The tag path of the first top-level private data element with a text VR (LO, SH, CS), None without
    one. Pure (reads ``ds``)."""
    for elem in ds:
        if elem.tag.is_private and elem.tag & 0xFFFF >= 0x1000 and elem.VR in ("LO", "SH", "CS") and elem.VM == 1:
            return _tag_path(elem.tag)
    return None


def free_private_group(ds: Any) -> int | None:
    for group in range(0x0011, 0x0021, 2):
        if not any(int(t) >> 16 == group for t in ds.keys()):
            return group
    return None


def cases_for(ds: Any) -> list[tuple[str, dict[str, Any]]]:
    """The modification cases that apply to a data set: (case name, options). Pure (reads ``ds``)."""
    cases: list[tuple[str, dict[str, Any]]] = []
    if "PatientName" in ds:
        cases.append(("set", {"modify": [{"path": "PatientName", "value": "Doe^John"}]}))
    cases.append(
        (
            "insert",
            {
                "insert": [
                    {"path": "ClinicalTrialSponsorName", "value": "DCMHARNESS"},
                    {"path": "(0020,4000)", "value": "inserted by dcmharness conform"},
                ]
            },
        )
    )
    cases.append(
        (
            "values",
            {
                "insert": [
                    {"path": "InstanceNumber", "value": "7"},
                    {"path": "WindowCenter", "value": "40.5\\-600"},
                    {"path": "ImageType", "value": "DERIVED\\SECONDARY"},
                ]
            },
        )
    )
    if "ReferringPhysicianName" in ds:
        cases.append(("empty", {"modify": [{"path": "ReferringPhysicianName", "value": ""}]}))
    if "PatientBirthDate" in ds:
        cases.append(("erase", {"erase": ["PatientBirthDate"]}))
    nested = nested_target(ds)
    if nested is not None:
        cases.append(("nested", {"modify": [{"path": nested[0], "value": nested[1]}]}))
    if all(k in ds for k in UID_KEYWORDS):
        cases.append(("uids", {"regenerate_uids": ["study", "series", "instance"]}))
    group = free_private_group(ds)
    if group is not None:
        g = f"{group:04X}"
        cases.append(
            (
                "private",
                {
                    "insert": [
                        {"path": f"({g},0010)", "value": "DCMHARNESS"},
                        {"path": f"({g},1001)", "value": "PRIVATE VALUE", "vr": "LO"},
                    ]
                },
            )
        )
    existing = existing_private(ds)
    if existing is not None:
        cases.append(("private_existing", {"modify": [{"path": existing, "value": "DCMHARNESS"}]}))
    return cases


# -- the comparison --------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    return str(value).rstrip(" \0").lstrip(" ") if value is not None else ""


def _number(value: Any) -> float | None:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def same_value(vr: str, a: Any, b: Any) -> bool:
    """Whether two element values are the same DICOM value (padding, number spelling ignored). Pure."""
    if isinstance(a, bytes) or isinstance(b, bytes):
        return bytes(a or b"") == bytes(b or b"")
    many_a = list(a) if isinstance(a, (list, tuple)) or type(a).__name__ == "MultiValue" else [a]
    many_b = list(b) if isinstance(b, (list, tuple)) or type(b).__name__ == "MultiValue" else [b]
    many_a = [] if many_a in ([None], [""]) else many_a
    many_b = [] if many_b in ([None], [""]) else many_b
    if len(many_a) != len(many_b):
        return False
    for x, y in zip(many_a, many_b, strict=True):
        if vr in ("DS", "IS", "FL", "FD", "US", "SS", "UL", "SL", "UV", "SV"):
            nx, ny = _number(x), _number(y)
            differ = nx is None or ny is None or abs(nx - ny) > 1e-9 * max(1.0, abs(nx))
            if differ and _text(x) != _text(y):
                return False
        elif _text(x) != _text(y):
            return False
    return True


def compare_datasets(got: Any, ref: Any, where: str = "", skip: frozenset[int] = frozenset()) -> list[str]:
    """Every element difference of two data sets, recursively (group lengths and ``skip`` tags ignored). Pure."""
    problems: list[str] = []
    tags = sorted({int(t) for t in got.keys()} | {int(t) for t in ref.keys()})
    for tag in tags:
        if tag & 0xFFFF == 0 or tag in skip:
            continue
        name = f"{where}{tag:08X}"
        if tag not in got:
            problems.append(f"{name}: absent (reference has it)")
            continue
        if tag not in ref:
            problems.append(f"{name}: present (reference has not)")
            continue
        a, b = got[tag], ref[tag]
        if a.VR != b.VR:
            problems.append(f"{name}: VR {a.VR}, reference {b.VR}")
            continue
        if a.VR == "SQ":
            items_a, items_b = list(a.value or []), list(b.value or [])
            if len(items_a) != len(items_b):
                problems.append(f"{name}: {len(items_a)} items, reference {len(items_b)}")
                continue
            for index, (x, y) in enumerate(zip(items_a, items_b, strict=True)):
                problems += compare_datasets(x, y, f"{name}[{index}].", skip)
            continue
        if not same_value(str(a.VR), a.value, b.value):
            problems.append(f"{name}: {_text(a.value)[:60]!r}, reference {_text(b.value)[:60]!r}")
    return problems


def uid_problems(source: Any, out: Any, keywords: Sequence[str] = UID_KEYWORDS) -> list[str]:
    """Regenerated UIDs (``keywords``): changed and valid (PS3.5 9.1). Pure."""
    from dcmharness.backends.python_ref.ops_validate import bad_uid

    problems = []
    for keyword in keywords:
        new = _text(out.get(keyword, ""))
        if new == _text(source.get(keyword, "")):
            problems.append(f"{keyword} not regenerated")
        elif why := bad_uid(new):
            problems.append(f"{keyword} {new!r}: {why}")
    return problems


def meta_problems(out: Any, ref: Any) -> list[str]:
    meta: Any = getattr(out, "file_meta", None)
    ref_meta = getattr(ref, "file_meta", None)
    problems = []
    follows = meta is None or "MediaStorageSOPInstanceUID" not in meta or "SOPInstanceUID" not in out
    if not follows and _text(meta.MediaStorageSOPInstanceUID) != _text(out.SOPInstanceUID):
        problems.append("MediaStorageSOPInstanceUID differs from SOPInstanceUID")
    ts = _text(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    ref_ts = _text(ref_meta.get("TransferSyntaxUID", "")) if ref_meta is not None else ""
    if ts != ref_ts:
        problems.append(f"Transfer Syntax UID {ts or '(none)'}, reference {ref_ts or '(none)'}")
    return problems


def compare_outputs(source: Path, output: str, reference: str, levels: Sequence[str] = ()) -> list[str]:
    """The problems of one backend's output against the reference's (see the module docstring); ``levels``
    are the ``regenerate_uids`` of the request."""
    import pydicom

    from dcmharness.backends.modify import UID_KEYWORDS as BY_LEVEL

    src = pydicom.dcmread(source, stop_before_pixels=True, force=True)
    got = pydicom.dcmread(output, force=True)
    ref = pydicom.dcmread(reference, force=True)
    problems = meta_problems(got, ref)
    keywords = [BY_LEVEL[level] for level in levels]
    problems += uid_problems(src, got, keywords)
    skip = frozenset(int(pydicom.datadict.tag_for_keyword(k) or 0) for k in keywords)
    problems += compare_datasets(got, ref, skip=skip)
    return problems


def _warnings(run: Run) -> list[str]:
    return list((run.result or {}).get("warnings", []))


def modify_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    import pydicom

    from dcmharness.interface.api import run as api_run

    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    digest = verify.file_digest(path)
    for name, options in cases_for(ds):
        profile = f"modify:{name}"
        ref_out = case_dir / f"{name}.{ctx.config.reference}.dcm"
        ref_request = {"op": "modify", "input": str(path), "output": str(ref_out), "overwrite": True}
        ref_response = api_run({**ref_request, "backend": ctx.config.reference, "options": options})
        ref = Run(
            ok=ref_response.ok,
            output=ref_response.outputs[0] if ref_response.outputs else None,
            result={"warnings": ref_response.warnings},
            error=ref_response.error.model_dump() if ref_response.error else None,
            duration_ms=ref_response.duration_ms,
            version=ref_response.backend_version,
        )
        ref_record(ctx, f"{case}/{name}", path, profile, options, ref)
        for backend in backends:
            out = case_dir / f"{name}.{backend}.dcm"
            response = api_run({**ref_request, "output": str(out), "backend": backend, "options": options})
            got = Run(
                ok=response.ok,
                output=response.outputs[0] if response.outputs else None,
                result={"warnings": response.warnings},
                error=response.error.model_dump() if response.error else None,
                command=response.command,
                duration_ms=response.duration_ms,
                version=response.backend_version,
            )
            problems: list[Any] | None = None
            if got.ok and got.output and ref.ok and ref.output:
                try:
                    problems = compare_outputs(path, got.output, ref.output, options.get("regenerate_uids", ()))
                except Exception as exc:  # an unreadable output is a finding
                    problems = [f"output not comparable: {type(exc).__name__}: {exc}"[:300]]
                if _warnings(got) != _warnings(ref):
                    problems.append(f"warnings {_warnings(got)}, reference {_warnings(ref)}")
                if verify.file_digest(path) != digest:
                    problems.append("the input file changed")
            record(
                ctx,
                case=f"{case}/{name}",
                path=path,
                profile=profile,
                options=options,
                backend=backend,
                run=got,
                problems=problems,
                reference=ref,
            )


MODIFY = OpCheck(MODIFY_FILES, modify_file)
