# ruff: noqa: E501  (the texts below are the tools' output, verbatim)
"""The validate comparison: findings matched across validators by (kind, tag, path), errors only, with a
warning on one side and an error on the other reported as ``warning_only``. Pure; the texts are what dciodvfy
and PixelMed printed on the same file (eCT_Supplemental.dcm without the shared Rescale Slope and with a
per-frame Frame Acquisition DateTime 20231345)."""

from __future__ import annotations

from dcmharness.adapters.dicom3tools.parse import parse_output as parse_dciodvfy
from dcmharness.adapters.pixelmed.validate import parse_output as parse_pixelmed
from dcmharness.interface.conform.ops.validate import by_kind, compare_findings

DCIODVFY = """\
Error - </PerFrameFunctionalGroupsSequence(5200,9230)[2]/FrameContentSequence(0020,9111)[1]/FrameAcquisitionDateTime(0018,9074)[1]> - Value invalid for this VR [DT] = <20231345> - Character invalid for this VR = '4' (0x34)
EnhancedCTImage
Error - </SharedFunctionalGroupsSequence(5200,9229)[1]/PixelValueTransformationSequence(0028,9145)[1]/RescaleSlope(0028,1053)> - Missing attribute for Type 1 Required - Module=<CTPixelValueTransformationMacro>
Error - </SharedFunctionalGroupsSequence(5200,9229)[1]/PixelValueTransformationSequence(0028,9145)[1]/RescaleType(0028,1054)[1]> - Unrecognized enumerated value = <US>
"""
PIXELMED = """\
Found EnhancedCTImage IOD
Error: CTPixelValueTransformationMacro/PixelValueTransformationSequence/RescaleSlope/: SharedFunctionalGroupsSequence/Item[1]/PixelValueTransformationSequence/Item[1]/: Missing required attribute (Type 1)
Error: FrameContentMacro/FrameContentSequence/FrameAcquisitionDateTime/: PerFrameFunctionalGroupsSequence/Item[2]/FrameContentSequence/Item[1]/FrameAcquisitionDateTime/value[1]/: Month component of value of DT VR is invalid since > 12 - value is :20231345:
Error: FrameContentMacro/FrameContentSequence/FrameAcquisitionDateTime/: PerFrameFunctionalGroupsSequence/Item[2]/FrameContentSequence/Item[1]/FrameAcquisitionDateTime/value[1]/: Day component of value of DT VR is invalid since > 31 - value is :20231345:
IOD validation complete
"""


def dumped(findings: list) -> list[dict]:  # type: ignore[type-arg]
    return [f.model_dump() for f in findings]


def test_the_two_tools_agree_on_nested_findings_but_one() -> None:
    reference = dumped(parse_dciodvfy(DCIODVFY)[0])
    other = dumped(parse_pixelmed(PIXELMED)[0])
    differences = compare_findings(reference, other)
    assert [(d["difference"], d["kind"], d["tag"], d["path"]) for d in differences] == [
        ("reference_only", "bad_enumerated_value", "00281054", "52009229[0].00289145[0].00281054")
    ]
    assert by_kind(differences) == {"bad_enumerated_value": differences}


def test_warning_against_error_and_backend_only() -> None:
    def f(severity: str, kind: str, tag: str) -> dict:  # type: ignore[type-arg]
        return {"severity": severity, "kind": kind, "tag": tag, "path": None, "message": kind}

    reference = [f("error", "bad_vr", "00080020"), f("warning", "not_in_iod", "300A0082")]
    other = [f("warning", "bad_vr", "00080020"), f("error", "missing_type2", "00100010")]
    assert [(d["difference"], d["kind"]) for d in compare_findings(reference, other)] == [
        ("warning_only", "bad_vr"),
        ("backend_only", "missing_type2"),
    ]
    assert compare_findings(reference, reference) == []
