"""Small deterministic DICOM datasets for the synthetic cases, written with pydicom."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

#: Our deterministic UIDs: pydicom's root + a hash of the case name (same bytes on every run).
_STUDY = "dcmharness-synth-study"


def uid_for(name: str) -> UID:
    return generate_uid(entropy_srcs=["dcmharness-synth", name])


def image_dataset(
    name: str,
    rows: int,
    cols: int,
    *,
    bits_allocated: int = 16,
    bits_stored: int | None = None,
    high_bit: int | None = None,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
    samples: int = 1,
    frames: int = 1,
    modality: str = "OT",
) -> Dataset:
    """A Secondary Capture dataset with the Image Pixel module filled in (no Pixel Data yet)."""
    bits_stored = bits_allocated if bits_stored is None else bits_stored
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uid_for(name)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = uid_for(name)
    ds.StudyInstanceUID = uid_for(_STUDY)
    ds.SeriesInstanceUID = uid_for(_STUDY + name)
    ds.PatientName = "Synthetic^" + name
    ds.PatientID = "SYNTH"
    ds.Modality = modality
    ds.SeriesDescription = name
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1 if high_bit is None else high_bit
    ds.PixelRepresentation = 1 if signed else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def words_bytes(words: np.ndarray, bits_allocated: int, little_endian: bool = True) -> bytes:
    """Pixel Data bytes of unsigned words (already holding every bit as it should be stored)."""
    if bits_allocated == 1:
        flat = np.asarray(words, dtype=np.uint8).reshape(-1)
        data = np.packbits(flat, bitorder="little").tobytes()
    else:
        order = "<" if little_endian else ">"
        data = np.asarray(words).astype(f"{order}u{bits_allocated // 8}").tobytes()
    return data + b"\0" * (len(data) % 2)


def set_pixels(ds: Dataset, words: np.ndarray, little_endian: bool = True) -> None:
    """Store unsigned words as Pixel Data (OW for > 8 bits, else OB)."""
    bits = int(ds.BitsAllocated)
    ds.PixelData = words_bytes(words, bits, little_endian)
    ds["PixelData"].VR = "OW" if bits > 8 else "OB"


def to_words(values: np.ndarray, bits_allocated: int) -> np.ndarray:
    """Two's complement words of (possibly negative) stored values in ``bits_allocated`` bits."""
    return np.asarray(values, dtype=np.int64) & ((1 << bits_allocated) - 1)


def lut_item(n_entries: int, first: int, bits: int, data: bytes | list[int], vr: str = "OW") -> Dataset:
    """A LUT item (Modality or VOI LUT Sequence): descriptor [n (0 = 65536), first, bits] and LUT Data."""
    item = Dataset()
    item.LUTDescriptor = [0 if n_entries == 65536 else n_entries, first & 0xFFFF, bits]
    item["LUTDescriptor"].VR = "US"
    item.LUTData = data
    item["LUTData"].VR = vr
    return item


def sequence(*items: Dataset) -> Sequence:
    return Sequence(list(items))


def write(ds: Dataset, path: Path, big_endian: bool = False) -> None:
    """Write a DICOM Part 10 file (explicit VR little endian, or the retired big endian)."""
    if big_endian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds.save_as(path, enforce_file_format=True)


def overlay(ds: Dataset, plane: int, rows: int, cols: int, origin: tuple[int, int], **extra: Any) -> int:
    """Add overlay plane ``plane`` (group 0x6000 + 2*plane) attributes; returns the group."""
    group = 0x6000 + 2 * plane
    ds.add_new((group, 0x0010), "US", rows)
    ds.add_new((group, 0x0011), "US", cols)
    ds.add_new((group, 0x0040), "CS", "G")
    ds.add_new((group, 0x0050), "SS", list(origin))
    ds.add_new((group, 0x0100), "US", extra.pop("bits_allocated", 1))
    ds.add_new((group, 0x0102), "US", extra.pop("bit_position", 0))
    if "frames" in extra:
        ds.add_new((group, 0x0015), "IS", extra.pop("frames"))
    if "frame_origin" in extra:
        ds.add_new((group, 0x0051), "US", extra.pop("frame_origin"))
    if "data" in extra:
        ds.add_new((group, 0x3000), "OW", extra.pop("data"))
    return group


def pack_overlay(mask: np.ndarray) -> bytes:
    """Overlay Data bits, LSB first, padded to an even length."""
    data = np.packbits(np.asarray(mask, dtype=np.uint8).reshape(-1), bitorder="little").tobytes()
    return data + b"\0" * (len(data) % 2)
