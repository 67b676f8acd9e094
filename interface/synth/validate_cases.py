"""Synthetic files for ``validate``: a clean instance and copies with ONE planted defect each.

Two clean bases:

- ``ct``: a CT Image (PS3.3 A.3) built here from scratch: every Type 1 and Type 2 attribute of its
  mandatory modules, Body Part Examined HEAD (an unpaired part: no Laterality) and Patient Position HFS
  (General Series: Type 2C for CT), 4 x 4 signed 16-bit pixels;
- ``enhanced_ct``: pydicom-data's ``eCT_Supplemental.dcm`` (an Enhanced CT Image, PS3.3 A.38) with its one
  defect repaired (Rescale Type ``US`` -> ``HU`` in the shared Pixel Value Transformation: the CT Pixel
  Value Transformation macro wants HU for ORIGINAL frames that are not LOCALIZER, PS3.3 C.8.15.3.10),
  present when pydicom-data is installed. PixelMed's validator
  knows the enhanced IODs only, so this base is what it can be measured on.

Each defect names the finding it must produce: (kind, tag, path), by the definitions of PS3.3, PS3.5 and
PS3.6 (not by any validator's output). The File Meta Information is written as built (group length and
version included), never regenerated from the data set, so a planted meta defect stays in the file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import UID, ExplicitVRLittleEndian

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
#: Not a Storage SOP Class of PS3.4 (the .1.1 arc is the Storage arc; 999 is unassigned).
UNKNOWN_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.999"
ROOT = "1.2.826.0.1.3680043.8.498.99."
IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.1"


@dataclass(frozen=True)
class Expected:
    kind: str
    tag: str | None
    path: str | None = None


@dataclass(frozen=True)
class Defect:
    name: str
    expected: Expected
    plant: Callable[[Dataset], None]
    bases: tuple[str, ...] = ("ct", "enhanced_ct")
    description: str = ""


@dataclass(frozen=True)
class ValidateCase:
    name: str  # <base>__<defect> or <base>__clean
    base: str
    defect: str | None
    expected: Expected | None
    path: Path


def ct_base() -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_IMAGE
    ds.SOPInstanceUID = ROOT + "1.1"
    ds.StudyDate = "20240102"
    ds.StudyTime = "101010"
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    ds.Manufacturer = "dcmharness"
    ds.ReferringPhysicianName = ""
    ds.PatientName = "Test^Patient"
    ds.PatientID = "P1"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.BodyPartExamined = "HEAD"
    ds.KVP = "120"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = ROOT + "2.1"
    ds.SeriesInstanceUID = ROOT + "3.1"
    ds.StudyID = "1"
    ds.SeriesNumber = "1"
    ds.InstanceNumber = "1"
    ds.AcquisitionNumber = "1"
    ds.PatientOrientation = ""
    ds.ImagePositionPatient = ["0", "0", "0"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = ROOT + "4.1"
    ds.PositionReferenceIndicator = ""
    ds.SliceThickness = "1"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 4
    ds.Columns = 4
    ds.PixelSpacing = ["1", "1"]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.PixelData = np.arange(16, dtype="<i2").tobytes()
    ds.file_meta = _meta(CT_IMAGE, ds.SOPInstanceUID)
    return ds


def enhanced_ct_base() -> Dataset | None:
    try:
        from dcmharness.interface.samples import find

        source = find("eCT_Supplemental.dcm")
    except KeyError:
        return None
    import pydicom

    ds = pydicom.dcmread(source)
    for item in ds.SharedFunctionalGroupsSequence:
        for pvt in item.get("PixelValueTransformationSequence", []):
            pvt.RescaleType = "HU"
    ds.file_meta = _meta(str(ds.SOPClassUID), str(ds.SOPInstanceUID))
    return ds


def _meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.FileMetaInformationGroupLength = 0  # computed when written
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
    return meta


def _delete(keyword: str) -> Callable[[Dataset], None]:
    def plant(ds: Dataset) -> None:
        delattr(ds, keyword)

    return plant


def _set(keyword: str, value: object) -> Callable[[Dataset], None]:
    def plant(ds: Dataset) -> None:
        setattr(ds, keyword, value)

    return plant


def _wrong_vr(ds: Dataset) -> None:
    ds[0x00080020] = DataElement(0x00080020, "LO", "20240102")  # Study Date is DA (PS3.6)


def _meta_class(ds: Dataset) -> None:
    ds.file_meta.MediaStorageSOPClassUID = UID(MR_IMAGE)  # PS3.10 7.1: shall equal SOP Class UID


def _unknown_class(ds: Dataset) -> None:
    ds.SOPClassUID = UNKNOWN_SOP_CLASS
    ds.file_meta.MediaStorageSOPClassUID = UID(UNKNOWN_SOP_CLASS)


def _no_frame_of_reference(ds: Dataset) -> None:
    del ds.FrameOfReferenceUID  # the Frame of Reference module (M for CT and Enhanced CT) removed whole
    del ds.PositionReferenceIndicator


DEFECTS: tuple[Defect, ...] = (
    Defect(
        "missing_type1",
        Expected("missing_type1", "00080008"),
        _delete("ImageType"),
        description="Image Type (CT Image / Enhanced CT Image module, Type 1) removed",
    ),
    Defect(
        "empty_type1",
        Expected("empty_type1", "0020000E"),
        _set("SeriesInstanceUID", ""),
        description="Series Instance UID (General Series, Type 1) empty",
    ),
    Defect(
        "missing_type2",
        Expected("missing_type2", "00100010"),
        _delete("PatientName"),
        description="Patient's Name (Patient module, Type 2) removed",
    ),
    Defect(
        "missing_conditional",
        Expected("missing_conditional", "00281051"),
        _set("WindowCenter", "40"),
        bases=("ct",),
        description="Window Center without Window Width (VOI LUT module: Type 1C, required "
        "if Window Center is present)",
    ),
    Defect("bad_vr", Expected("bad_vr", "00080020"), _wrong_vr, description="Study Date written with VR LO"),
    Defect(
        "bad_vm",
        Expected("bad_vm", "00080060"),
        _set("Modality", ["CT", "MR"]),
        description="Modality (VM 1) with two values",
    ),
    Defect(
        "bad_enumerated_value",
        Expected("bad_enumerated_value", "00100040"),
        _set("PatientSex", "X"),
        description="Patient's Sex X (Enumerated Values M, F, O)",
    ),
    Defect(
        "bad_uid_letter",
        Expected("bad_uid", "0020000D"),
        _set("StudyInstanceUID", ROOT + "2.1a"),
        description="Study Instance UID with a letter (PS3.5 9.1)",
    ),
    Defect(
        "bad_uid_long",
        Expected("bad_uid", "0020000D"),
        _set("StudyInstanceUID", ROOT + "2." + "1" * 40),
        description="Study Instance UID of 69 characters (PS3.5 9.1: at most 64)",
    ),
    Defect(
        "bad_date",
        Expected("bad_date_time", "00080020"),
        _set("StudyDate", "20231345"),
        description="Study Date 20231345 (PS3.5 6.2 DA: month 13)",
    ),
    Defect(
        "missing_module",
        Expected("missing_type1", "00200052"),
        _no_frame_of_reference,
        description="Frame of Reference module (M) absent: its Type 1 Frame of Reference UID is missing",
    ),
    Defect(
        "bad_file_meta",
        Expected("bad_file_meta", "00020002"),
        _meta_class,
        description="Media Storage SOP Class UID (MR Image) differs from SOP Class UID",
    ),
    Defect(
        "unknown_sop_class",
        Expected("unknown_sop_class", None),
        _unknown_class,
        description="SOP Class UID 1.2.840.10008.5.1.4.1.1.999 (no Storage SOP Class of PS3.4)",
    ),
)
BASES: dict[str, Callable[[], Dataset | None]] = {"ct": ct_base, "enhanced_ct": enhanced_ct_base}


def write_dataset(ds: Dataset, path: Path) -> None:
    """Write with the File Meta Information as built (nothing regenerated from the data set)."""
    ds.preamble = b"\0" * 128
    dcmwrite(path, ds, enforce_file_format=False)


def generate(out_dir: Path, bases: tuple[str, ...] = ("ct", "enhanced_ct")) -> list[ValidateCase]:
    """Write every base's clean file and its planted-defect copies into ``out_dir``; the cases written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases: list[ValidateCase] = []
    for base_name in bases:
        base = BASES[base_name]()
        if base is None:
            continue
        clean = out_dir / f"{base_name}__clean.dcm"
        write_dataset(copy.deepcopy(base), clean)
        cases.append(ValidateCase(f"{base_name}__clean", base_name, None, None, clean))
        for defect in DEFECTS:
            if base_name not in defect.bases:
                continue
            ds = copy.deepcopy(base)
            defect.plant(ds)
            path = out_dir / f"{base_name}__{defect.name}.dcm"
            write_dataset(ds, path)
            cases.append(ValidateCase(path.stem, base_name, defect.name, defect.expected, path))
    return cases
