"""Request and response models of the contract (pydantic v2). The op catalog is in ``catalog.py``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dcmharness.contract.options import ToImageOptions

RequestId = str | int | None


class RequestBase(BaseModel):
    """Fields every request has, whatever its op."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    id: RequestId = Field(None, description="Echoed back in the response, to pair answers with requests.")
    input: str = Field(
        ...,
        min_length=1,
        max_length=4096,
        description="Path of the input DICOM file, or of a folder: the op then runs on each DICOM file in it "
        "(contract/OPS.md, 'Folders').",
    )
    output: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="Path to write; default: <input stem>.<ext> in the current directory. For a folder input, "
        "a folder (created if its parent exists; default <input folder name>.<op> in the current directory).",
    )
    backend: str = Field("python_ref", min_length=1, max_length=64, description="Which backend runs it.")
    overwrite: bool = Field(False, description="Replace an existing output (default: refuse).")
    timeout: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Seconds an external backend may take (default 60).",
    )
    recursive: bool = Field(
        False, description="For a folder input: also run on the files of its sub-folders (default: the top level)."
    )


class ToImageRequest(RequestBase):
    """Render a DICOM image to PNG / JPEG / TIFF / PNM."""

    op: Literal["to_image"]
    options: ToImageOptions = Field(default_factory=ToImageOptions)


class ErrorInfo(BaseModel):
    """A structured error: a stable code, a human message, and the field at fault if one is."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., description="One of the contract's error codes.")
    message: str
    field: str | None = Field(None, description="Dotted path of the request field at fault, if any.")


class Response(BaseModel):
    """The answer to one request."""

    model_config = ConfigDict(extra="forbid")

    id: RequestId = None
    ok: bool
    op: str | None = None
    backend: str | None = None
    backend_version: str | None = None
    outputs: list[str] = Field(default_factory=list, description="Files written (absolute paths).")
    result: dict[str, Any] | None = Field(None, description="Op-specific data (see the README).")
    warnings: list[str] = Field(default_factory=list)
    error: ErrorInfo | None = None
    command: list[str] | None = Field(None, description="The argv an external backend ran; null in-process.")
    stderr: str | None = Field(None, description="What an external tool printed on stderr (trimmed).")
    duration_ms: float = 0.0
