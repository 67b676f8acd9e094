"""``split_multiframe`` on the reference backend: one single-frame file per frame.

Each output is the input's dataset without the functional group sequences, with the frame's shared and
per-frame functional group macros moved to the top level (the elements of each macro's item; per-frame
over shared; Frame Type becomes Image Type), Number of Frames removed, Instance Number = frame + 1, a new
SOP Instance UID, the Series kept, and the frame's pixel data (native: its bytes, single-bit frames
repacked; encapsulated: its fragments, re-encapsulated with a basic offset table). An enhanced image's SOP
Class becomes its single-frame class (Enhanced CT -> CT Image, Enhanced MR -> MR Image, Enhanced PET ->
PET Image), as dcm4che's emf2sf does; any other class is kept.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.series_models import SplitMultiframeRequest

#: Enhanced (and legacy converted enhanced) SOP classes -> their single-frame classes.
SINGLE_FRAME_CLASS = {
    "1.2.840.10008.5.1.4.1.1.2.1": "1.2.840.10008.5.1.4.1.1.2",  # Enhanced CT -> CT Image
    "1.2.840.10008.5.1.4.1.1.2.2": "1.2.840.10008.5.1.4.1.1.2",  # Legacy Converted Enhanced CT
    "1.2.840.10008.5.1.4.1.1.4.1": "1.2.840.10008.5.1.4.1.1.4",  # Enhanced MR -> MR Image
    "1.2.840.10008.5.1.4.1.1.4.4": "1.2.840.10008.5.1.4.1.1.4",  # Legacy Converted Enhanced MR
    "1.2.840.10008.5.1.4.1.1.130": "1.2.840.10008.5.1.4.1.1.128",  # Enhanced PET -> PET Image
    "1.2.840.10008.5.1.4.1.1.128.1": "1.2.840.10008.5.1.4.1.1.128",  # Legacy Converted Enhanced PET
}
GROUPS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")
DROPPED = (
    *GROUPS,
    "NumberOfFrames",
    "FrameIncrementPointer",
    "DimensionIndexSequence",
    "DimensionOrganizationSequence",
    "DimensionOrganizationType",
)


def check_frames(info: InputInfo, frames: list[int] | None) -> list[int]:
    if frames is None:
        return list(range(info.frames))
    bad = [f for f in frames if f >= info.frames]
    if bad:
        raise HarnessError(
            ErrorCode.FRAME_OUT_OF_RANGE,
            f"frame {bad[0]} is not in the file ({info.frames} frames, 0-based)",
            "options.frames",
        )
    return list(frames)


def macros(ds: Any, frame: int) -> dict[str, Any]:
    """The functional group macros of a frame (keyword -> item): shared, overridden by per-frame."""
    out: dict[str, Any] = {}
    for name, index in (("SharedFunctionalGroupsSequence", 0), ("PerFrameFunctionalGroupsSequence", frame)):
        seq = ds.get(name)
        if not seq or index >= len(seq):
            continue
        for elem in seq[index]:
            if elem.VR == "SQ" and len(elem.value):
                out[elem.keyword or str(elem.tag)] = elem.value[0]
    return out


def frame_pixels(ds: Any, info: InputInfo, frame: int) -> bytes:
    """The frame's Pixel Data value: its native bytes, or its encapsulated fragments re-encapsulated."""
    from pydicom.encaps import encapsulate, get_frame

    value = ds.PixelData
    if info.is_compressed:
        return bytes(encapsulate([get_frame(value, frame, number_of_frames=info.frames)], has_bot=True))
    samples = info.rows * info.columns * info.samples_per_pixel
    if info.bits_allocated == 1:
        bits = np.unpackbits(np.frombuffer(value, dtype=np.uint8), bitorder="little")
        one = bits[frame * samples : (frame + 1) * samples]
        data = np.packbits(one, bitorder="little").tobytes()
    else:
        size = samples * info.bits_allocated // 8
        data = bytes(value[frame * size : (frame + 1) * size])
        if len(data) != size:
            raise HarnessError(ErrorCode.DECODE_FAILED, f"frame {frame}: the pixel data is truncated", "input")
    return data + b"\0" * (len(data) % 2)


def single_frame(ds: Any, info: InputInfo, frame: int) -> Any:
    """The dataset of one frame (see the module's description)."""
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    out = Dataset()
    skipped = {*DROPPED, "PixelData"}
    for elem in ds:
        if elem.keyword not in skipped:
            out.add(copy.deepcopy(elem))  # the input's dataset is never modified
    out.file_meta = copy.deepcopy(ds.file_meta)
    for name, item in macros(ds, frame).items():
        if name == "FrameContentSequence":
            continue
        for elem in item:
            if elem.keyword == "FrameType":
                out.ImageType = elem.value
            elif elem.keyword:
                out[elem.tag] = copy.deepcopy(elem)
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in SINGLE_FRAME_CLASS:
        out.SOPClassUID = SINGLE_FRAME_CLASS[sop_class]
        out.file_meta.MediaStorageSOPClassUID = out.SOPClassUID
    uid = generate_uid()
    out.SOPInstanceUID = uid
    out.file_meta.MediaStorageSOPInstanceUID = uid
    out.InstanceNumber = frame + 1
    out.PixelData = frame_pixels(ds, info, frame)
    out["PixelData"].VR = ds["PixelData"].VR
    if info.is_compressed:
        out["PixelData"].is_undefined_length = True
    return out


def split_multiframe(request: SplitMultiframeRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    ds = info.dataset
    frames = [t.frame for t in plan.targets]
    uids: list[str] = []
    for target in plan.targets:
        assert target.frame is not None
        out = single_frame(ds, info, target.frame)
        out.save_as(target.temp, enforce_file_format=True)
        uids.append(str(out.SOPInstanceUID))
    return Outcome(
        result={
            "frames": frames,
            "files": [t.final.name for t in plan.targets],
            "sop_instance_uids": uids,
            "series_instance_uid": str(ds.get("SeriesInstanceUID", "")),
        }
    )
