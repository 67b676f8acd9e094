# ruff: noqa: E501  (the texts below are the tool's output, verbatim)
"""dicom3tools (dciodvfy): the command line and the parsing of its output, golden-tested without the tool.

The texts below are what ``dciodvfy -new`` (dicom3tools 1.00.snapshot.20220618093127) printed on pydicom's
test files and on the planted-defect files (interface/synth/validate_cases.py).
"""

from __future__ import annotations

import pytest

from dcmharness.adapters.dicom3tools.adapter import build_validate_argv, parse_version, validation_failure
from dcmharness.adapters.dicom3tools.parse import kind_of, parse_output, parse_path
from dcmharness.adapters.runner import ToolRun

RTPLAN = """\
Error - </MediaStorageSOPInstanceUID(0002,0003)> - MediaStorageSOPInstanceUID different from SOPInstanceUID
Warning - </OperatorsName(0008,1070)[1]> - Value dubious for this VR [PN] = <operator> - Retired Person Name form
RTPlan
Warning - </FractionGroupSequence(300a,0070)[1]/ReferencedBeamSequence(300c,0004)[1]/BeamDoseSpecificationPoint(300a,0082)> - Attribute is not present in standard DICOM IOD
"""
RTSTRUCT = """\
RTStructureSet
Error - </FrameOfReferenceUID(0020,0052)> - Missing attribute for Type 1 Required - Module=<FrameOfReference>
Error - </PositionReferenceIndicator(0020,1040)> - Missing attribute for Type 2 Required - Module=<FrameOfReference>
Error - </ReferencedFrameOfReferenceSequence(3006,0010)[1]/RTReferencedStudySequence(3006,0012)[1]/RTReferencedSeriesSequence(3006,0014)[1]/ContourImageSequence(3006,0016)> - Missing attribute for Type 1 Required - Module=<StructureSet>
"""
PLANTED = """\
Error - </StudyDate(0008,0020)[1]> - Value invalid for this VR [DA] = <20231345> - Character invalid for this VR = '4' (0x34)
Error - </StudyInstanceUID(0020,000d)[1]> - Value invalid for this VR [UI] = <1.2.3a> - Character invalid for this VR = 'a' (0x61)
Warning - </StudyDate(0008,0020)> - Explicit value representation doesn't match data dictionary - [LO] Dictionary [DA]
CTImage
Error - </PixelSpacing(0028,0030)> - Bad attribute Value Multiplicity = <3> (2 Required by Dictionary) Module=<ImagePlane>
Error - </Modality(0008,0060)> - Empty attribute (no value) for Type 1C Conditional - Module=<GeneralSeries>
Error - </WindowWidth(0028,1051)> - Missing attribute for Type 1C Conditional - Module=<VOILUTMacro>
Error - </PatientSex(0010,0040)[1]> - Unrecognized enumerated value = <X>
 for SCOORD = <no child> - expected IMAGE
Error - </MediaStorageSOPClassUID(0002,0002)> - MediaStorageSOPClassUID different from SOPClassUID
"""


def test_argv_is_golden() -> None:
    assert build_validate_argv("/usr/bin/dciodvfy", "/data/a b.dcm") == ["/usr/bin/dciodvfy", "-new", "/data/a b.dcm"]


def test_version() -> None:
    text = "dicom3tools Version: 1.00.snapshot.20220618093127\ndicom3tools Platform: Linux"
    assert parse_version(text) == "1.00.snapshot.20220618093127"
    assert parse_version("nothing") is None


def test_rtplan_output() -> None:
    findings, iod = parse_output(RTPLAN)
    assert iod == "RTPlan"
    assert [(f.severity, f.kind, f.tag, f.path) for f in findings] == [
        ("error", "bad_file_meta", "00020003", None),
        ("warning", "bad_value", "00081070", None),
        ("warning", "not_in_iod", "300A0082", "300A0070[0].300C0004[0].300A0082"),
    ]
    assert findings[0].message == "MediaStorageSOPInstanceUID different from SOPInstanceUID"
    assert findings[2].keyword == "BeamDoseSpecificationPoint"


def test_module_and_nested_path() -> None:
    findings, iod = parse_output(RTSTRUCT)
    assert iod == "RTStructureSet"
    assert [(f.kind, f.tag, f.module) for f in findings] == [
        ("missing_type1", "00200052", "FrameOfReference"),
        ("missing_type2", "00201040", "FrameOfReference"),
        ("missing_type1", "30060016", "StructureSet"),
    ]
    assert findings[2].path == "30060010[0].30060012[0].30060014[0].30060016"
    assert findings[0].message == "Missing attribute for Type 1 Required"


def test_planted_defect_messages_map_to_kinds() -> None:
    findings, iod = parse_output(PLANTED)
    assert iod == "CTImage"  # the continuation line " for SCOORD = ..." is neither a finding nor the IOD
    assert [(f.severity, f.kind, f.tag) for f in findings] == [
        ("error", "bad_date_time", "00080020"),
        ("error", "bad_uid", "0020000D"),
        ("warning", "bad_vr", "00080020"),
        ("error", "bad_vm", "00280030"),
        ("error", "empty_type1", "00080060"),
        ("error", "missing_conditional", "00281051"),
        ("error", "bad_enumerated_value", "00100040"),
        ("error", "bad_file_meta", "00020002"),
    ]


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Information Object Not found", "unknown_sop_class"),
        ("Dicom dataset read failed", "unreadable"),
        ("Invalid Value Representation LO (DA Required) Module=<GeneralStudy>", "bad_vr"),
        (
            "Attribute present when condition unsatisfied (which may not be present otherwise) for Type 1C",
            "not_permitted",
        ),
        ("Illegal root for UID = <9.8.7.6>", "bad_uid"),
        ("Value invalid for this VR [TM] = <25> - Character invalid", "bad_date_time"),
        ("Value invalid for this VR [SH] - Trailing character invalid for this VR = '' (0)", "bad_value"),
        ("Retired attribute", "other"),
        ("Missing attribute or value that would be needed to build DICOMDIR", "other"),
    ],
)
def test_kind_of(message: str, kind: str) -> None:
    assert kind_of(message) == kind


def test_file_level_finding_has_no_tag() -> None:
    findings, iod = parse_output("Error - Information Object Not found\n")
    assert iod is None
    assert [(f.kind, f.tag, f.path) for f in findings] == [("unknown_sop_class", None, None)]


def test_private_tag_path() -> None:
    assert parse_path("/(6167,6272)") == ("61676272", None)


def test_exit_status_interpretation() -> None:
    def run(code: int, err: str) -> ToolRun:
        return ToolRun(["dciodvfy"], code, b"", err.encode(), 0.1)

    assert validation_failure(run(0, "CTImage\n")) is None
    assert validation_failure(run(1, "Error - </A(0008,0008)> - Missing attribute for Type 1 Required\n")) is None
    assert validation_failure(run(-6, "")) == "dciodvfy failed (killed by signal SIGABRT)"
    assert (
        validation_failure(run(1, 'Abort - File open for read failed - "/x"\n'))
        == 'Abort - File open for read failed - "/x"'
    )
