"""Where a served request may read and write: the ``--root`` folder, and the server's private output folder.

A request that names its output runs exactly as ``dcmharness run --root ROOT`` would (``RunContext(root=...)``:
input and output confined by ``interface/context.py``). A request without an output writes into a fresh folder
of the server's private output folder (it never writes into the root unasked): its input is checked against the
root here, with the same ``confine``, before the request runs with that folder as its working directory.
Uploaded files live in the private folder too and may be named as inputs.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.contract.catalog import OPS
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.interface.context import RunContext, confine, resolve_path

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Places:
    root: Path
    out_dir: Path
    default_timeout: float | None = None
    owned: bool = field(default=False)  # out_dir was created by the server: removed at stop

    @classmethod
    def create(cls, root: Path, out_dir: Path | None = None, default_timeout: float | None = None) -> Places:
        if out_dir is None:
            made = Path(tempfile.mkdtemp(prefix="dcmharness-serve-"))  # mode 0700
            return cls(root.resolve(), made.resolve(), default_timeout, owned=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        return cls(root.resolve(), out_dir.resolve(), default_timeout)

    @property
    def uploads(self) -> Path:
        return self.out_dir / "uploads"

    def cleanup(self) -> None:
        if self.owned:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    def root_context(self) -> RunContext:
        return RunContext(root=self.root, default_timeout=self.default_timeout)

    def fresh_folder(self, kind: str) -> Path:
        """A new, empty folder of the private output folder (one per request: concurrent names never meet)."""
        folder = self.out_dir / kind / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def input_path(self, value: str, field_name: str = "input") -> tuple[Path, bool]:
        """The input, resolved; and whether it is an upload. ``path_outside_root`` when it is neither under
        the root nor an uploaded file (decided from the path alone: nothing is read)."""
        path = resolve_path(value, self.root_context(), field_name)
        try:
            confine(path, self.root, field_name)
            return path, False
        except HarnessError as outside:
            try:
                confine(path, self.uploads, field_name)
            except HarnessError:
                raise outside from None
            return path, True

    def output_path(self, value: str) -> Path:
        return confine(resolve_path(value, self.root_context(), "output"), self.root, "output")

    def served_file(self, value: str) -> Path:
        """A file ``GET /outputs`` may send: in the private output folder (relative paths start there) or
        under the root. ``path_outside_root`` otherwise, ``input_not_found`` when it is not a file."""
        p = Path(value)
        candidate = p if p.is_absolute() else self.out_dir / p
        try:
            confine(candidate, self.out_dir, "path")
        except HarnessError:
            confine(candidate, self.root, "path")
        if not candidate.is_file():
            raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"no such output: {value}", "path")
        return candidate.resolve()

    def root_entry(self, value: str) -> Path:
        """A path under the root (relative to it), confined."""
        return confine(resolve_path(value or ".", self.root_context(), "path"), self.root, "path")

    def upload_target(self, name: str) -> Path:
        safe = _SAFE_NAME.sub("_", Path(name).name).strip("._") or "upload.dcm"
        return self.fresh_folder("uploads") / safe[:120]


def plan_request(data: Any, places: Places) -> tuple[Any, RunContext]:
    """The request to hand to ``api.run`` and its context. Raises ``HarnessError`` (``path_outside_root``,
    ``invalid_request``) for a path the server refuses; anything else is left for ``api.run`` to judge."""
    if not isinstance(data, dict) or not isinstance(data.get("input"), str):
        return data, places.root_context()
    input_path, uploaded = places.input_path(data["input"])
    output = data.get("output")
    op = data.get("op")
    writes = op in OPS and OPS[op].writes_output
    if isinstance(output, str):
        out = places.output_path(output)
        if not uploaded:
            return data, places.root_context()
        return {**data, "input": str(input_path.resolve()), "output": str(out)}, RunContext(
            default_timeout=places.default_timeout
        )
    if output is None and writes:
        folder = places.fresh_folder("runs")
        return {**data, "input": str(input_path.resolve())}, RunContext(
            cwd=folder, default_timeout=places.default_timeout
        )
    if uploaded:
        return {**data, "input": str(input_path.resolve())}, RunContext(default_timeout=places.default_timeout)
    return data, places.root_context()
