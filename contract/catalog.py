"""The op catalog: every op the contract knows, its request model and its options model.

To add an op: define its options model in ``options.py``, its request class here (a ``RequestBase``
with ``op: Literal[...]`` and ``options``), and add it to ``OPS``; the discriminated union, the JSON
Schema and the CLI pick it up from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter

from dcmharness.contract.dicomweb_models import (
    QidoOptions,
    QidoRequest,
    StowOptions,
    StowRequest,
    WadoOptions,
    WadoRequest,
)
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.ops_models import (
    AnonymizeOptions,
    AnonymizeRequest,
    DecodeOptions,
    DecodeRequest,
    DumpOptions,
    DumpRequest,
    EchoOptions,
    EchoRequest,
    FindOptions,
    FindRequest,
    FromJsonOptions,
    FromJsonRequest,
    GetOptions,
    GetRequest,
    HistogramOptions,
    HistogramRequest,
    InfoOptions,
    InfoRequest,
    ModifyOptions,
    ModifyRequest,
    StatsOptions,
    StatsRequest,
    StoreOptions,
    StoreRequest,
    TranscodeOptions,
    TranscodeRequest,
    ValidateOptions,
    ValidateRequest,
)
from dcmharness.contract.options import ToImageOptions
from dcmharness.contract.series_models import (
    NiftiOptions,
    NiftiRequest,
    SplitMultiframeOptions,
    SplitMultiframeRequest,
    VolumeOptions,
    VolumeRequest,
)


@dataclass(frozen=True)
class OpSpec:
    name: str
    request_model: type[RequestBase]
    options_model: type[BaseModel]
    summary: str
    writes_output: bool = True
    #: "file": a folder input runs the op on each file of the folder (``dcmharness.interface.folders``);
    #: "series": the op reads the folder itself as one input (a series: ``volume``, ``nifti``; ``store``: one
    #: association for the whole folder).
    input_kind: Literal["file", "series"] = "file"


OPS: dict[str, OpSpec] = {
    "to_image": OpSpec("to_image", ToImageRequest, ToImageOptions, "Render a frame to an image file."),
    "dump": OpSpec("dump", DumpRequest, DumpOptions, "Write the dataset as DICOM JSON (PS3.18 F.2)."),
    "info": OpSpec("info", InfoRequest, InfoOptions, "Summarise the file.", writes_output=False),
    "stats": OpSpec("stats", StatsRequest, StatsOptions, "Pixel statistics per frame.", writes_output=False),
    "histogram": OpSpec(
        "histogram", HistogramRequest, HistogramOptions, "Pixel histogram per frame.", writes_output=False
    ),
    "transcode": OpSpec("transcode", TranscodeRequest, TranscodeOptions, "Rewrite in another transfer syntax."),
    "anonymize": OpSpec("anonymize", AnonymizeRequest, AnonymizeOptions, "De-identify (PS3.15 E.1 basic profile)."),
    "decode": OpSpec("decode", DecodeRequest, DecodeOptions, "Decode the stored pixel values to .npy."),
    "validate": OpSpec(
        "validate", ValidateRequest, ValidateOptions, "Validate against the IOD (PS3.3) and PS3.6.", writes_output=False
    ),
    "volume": OpSpec(
        "volume",
        VolumeRequest,
        VolumeOptions,
        "A series as a 3-D array of modality values (.npy).",
        input_kind="series",
    ),
    "nifti": OpSpec("nifti", NiftiRequest, NiftiOptions, "A series as NIfTI-1 (.nii / .nii.gz).", input_kind="series"),
    "split_multiframe": OpSpec(
        "split_multiframe", SplitMultiframeRequest, SplitMultiframeOptions, "One single-frame file per frame."
    ),
    "echo": OpSpec("echo", EchoRequest, EchoOptions, "Verify a DICOM peer (C-ECHO).", writes_output=False),
    "store": OpSpec(
        "store",
        StoreRequest,
        StoreOptions,
        "Send files to a DICOM peer (C-STORE).",
        writes_output=False,
        input_kind="series",
    ),
    "find": OpSpec("find", FindRequest, FindOptions, "Query a DICOM peer (C-FIND).", writes_output=False),
    "get": OpSpec("get", GetRequest, GetOptions, "Retrieve instances from a DICOM peer into a folder (C-GET)."),
    "modify": OpSpec("modify", ModifyRequest, ModifyOptions, "Set, insert or erase attributes; regenerate UIDs."),
    "from_json": OpSpec(
        "from_json", FromJsonRequest, FromJsonOptions, "Build a DICOM file from DICOM JSON (PS3.18 F.2)."
    ),
}
OPS.update(  # DICOMweb (PS3.18): contract/dicomweb_models.py
    {
        "stow": OpSpec(
            "stow", StowRequest, StowOptions, "Store files on a DICOMweb service (STOW-RS).", writes_output=False,
            input_kind="series",
        ),
        "qido": OpSpec("qido", QidoRequest, QidoOptions, "Search a DICOMweb service (QIDO-RS).", writes_output=False),
        "wado": OpSpec("wado", WadoRequest, WadoOptions, "Retrieve instances from a DICOMweb service (WADO-RS)."),
    }
)

# The union is built from OPS so that an op added above is part of the contract everywhere.
_union: Any = Union[tuple(spec.request_model for spec in OPS.values())]  # noqa: UP007
AnyRequest: Any = Annotated[_union, Field(discriminator="op")]

REQUEST_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyRequest)
