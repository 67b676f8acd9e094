"""from_json: each sample file is dumped by the reference (``dump`` with inline bulk data and the file meta), then
every backend (the reference included) rebuilds a DICOM file from that document, and the file is compared with
the ORIGINAL element by element (``compare_datasets``: tag, VR, value; pixel data as bytes; the meta when the
original has one; retired group lengths left out).

Two profiles: ``from_json`` (the document as dump wrote it, bulk data inline) and ``from_json:uri`` (every
InlineBinary moved to a file beside the document and named by a relative BulkDataURI). Any difference is a
``mismatch`` unless a registry entry naming the profile explains it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.ops.core import Ctx, OpCheck, OpsConfig, Run, record, ref_record, run_request

PROFILES = ("from_json", "from_json:uri")


def corpus(config: OpsConfig) -> list[Path]:
    """Every DICOM file of pydicom's test files and its character-set files (the round-trip test's corpus),
    or the files/folders given."""
    import pydicom.data

    if config.corpus:
        files: list[Path] = []
        for c in config.corpus:
            files += sorted(p for p in c.rglob("*") if p.is_file()) if c.is_dir() else [c]
        return files
    root = Path(pydicom.data.__file__).parent / "test_files"
    return sorted(root.rglob("*.dcm")) + sorted(Path(p) for p in pydicom.data.get_charset_files("*.dcm"))


def documents(ctx: Ctx, path: Path, case_dir: Path) -> tuple[Run, dict[str, Path]]:
    """The reference's dump of ``path`` and the documents of each profile (none when the dump failed)."""
    from dcmharness.backends.dicom_json import externalise

    inline = case_dir / "document.json"
    dumped = run_request(
        {
            "op": "dump",
            "input": str(path),
            "output": str(inline),
            "backend": ctx.config.reference,
            "overwrite": True,
            "options": {"bulk_data": "inline", "include_meta": True},
        },
        ctx.config.timeout,
    )
    if not dumped.ok:
        return dumped, {}
    folder = case_dir / "uri"
    folder.mkdir(exist_ok=True)
    model = json.loads(inline.read_text(encoding="utf-8"))
    by_uri = folder / "document.json"
    by_uri.write_text(json.dumps(externalise(model, folder)), encoding="utf-8")
    return dumped, {"from_json": inline, "from_json:uri": by_uri}


def differences(original: Path, output: str) -> list[Any]:
    from dcmharness.interface.conform.ops.compare_datasets import compare_files

    try:
        return [d.as_dict() for d in compare_files(original, Path(output))]
    except Exception as exc:  # an unreadable output is a finding
        return [f"output not readable: {type(exc).__name__}: {exc}"[:300]]


def check_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    reference = ctx.config.reference
    dumped, docs = documents(ctx, path, case_dir)
    for profile in PROFILES:
        doc = docs.get(profile)
        ref_run: Run | None = None
        for backend in (reference, *backends):
            if doc is None:  # the reference could not dump the file: nothing to rebuild from
                got = dumped
            else:
                suffix = profile.replace(":", "_")
                got = run_request(
                    {
                        "op": "from_json",
                        "input": str(doc),
                        "output": str(case_dir / f"{suffix}.{backend}.dcm"),
                        "backend": backend,
                        "overwrite": True,
                    },
                    ctx.config.timeout,
                )
            problems = differences(path, got.output) if got.ok and got.output else None
            if backend == reference:
                ref_run = got
                ref_record(ctx, case, path, profile, {}, got)
            record(
                ctx,
                case=case,
                path=path,
                profile=profile,
                options={},
                backend=backend,
                run=got,
                problems=problems,
                reference=None if backend == reference else ref_run,
            )


FROM_JSON = OpCheck((), check_file, corpus=corpus)
