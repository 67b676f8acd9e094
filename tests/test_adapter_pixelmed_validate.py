# ruff: noqa: E501  (the texts below are the tool's output, verbatim)
"""PixelMed's DicomInstanceValidator: the launcher's command line and the parsing of its text, golden-tested
without a JVM. The texts are what pixelmed 20220618 printed on pydicom-data's emri_small.dcm and liver.dcm and
on the planted-defect files (interface/synth/validate_cases.py), the nested ones on eCT_Supplemental.dcm without
the shared Rescale Slope and with a per-frame Frame Acquisition DateTime 20231345."""

from __future__ import annotations

from dcmharness.adapters.pixelmed.validate import KNOWN_SOP_CLASSES, kind_of, parse_output, validate_argv

EMRI = """\
Found EnhancedMRImage IOD
Error: GeneralEquipmentModule/Manufacturer/: : Missing required attribute (Type 2)
Error: EnhancedGeneralEquipmentModule/Manufacturer/: : Missing required attribute (Type 1)
Error: EnhancedGeneralEquipmentModule/DeviceSerialNumber/: DeviceSerialNumber: Incorrect value multiplicity - got 0 but expected 1-1
Error: EnhancedGeneralEquipmentModule/DeviceSerialNumber/: DeviceSerialNumber: Type 1 attribute may not be zero length
Error: MultiFrameFunctionalGroupsForEnhancedMRImageModule/: : Number of PerFrameFunctionalGroupsSequence Items must equal NumberOfFrames
Error: MultiFrameFunctionalGroupsForEnhancedMRImageModule/PerFrameFunctionalGroupsSequence/: : Missing required sequence attribute (Type 1)
Error: MRImageAndMRSpectroscopyInstanceMacro/ApplicableSafetyStandardAgency/: : Missing conditional attribute
IOD validation complete
"""
PLANTED = """\
Found EnhancedCTImage IOD
Error: GeneralStudyModule/StudyDate/: StudyDate/value[1]/: Month component of value of DA VR is invalid since > 12 - value is :20231345:
Error: GeneralStudyModule/StudyInstanceUID/: StudyInstanceUID/value[1]/: Illegal character(s) 'a' in value of UI VR - value is :1.2.3a:
Error: GeneralStudyModule/StudyInstanceUID/: StudyInstanceUID/value[1]/: Length invalid for UI VR - is 68 but must be <= 64 - value is :1.2:
Error: GeneralSeriesModule/Modality/: Modality: Incorrect value multiplicity - got 2 but expected 1-1
Error: GeneralStudyModule/StudyDate/: StudyDate: Incorrect VR - got LO but expected DA
Error: PatientModule/PatientSex/: PatientSex/value[1]: Unrecognized enumerated value :X:
Error: CTPixelValueTransformationMacro/PixelValueTransformationSequence/RescaleSlope/: SharedFunctionalGroupsSequence/Item[1]/PixelValueTransformationSequence/Item[1]/: Missing required attribute (Type 1)
Error: FrameContentMacro/FrameContentSequence/FrameAcquisitionDateTime/: PerFrameFunctionalGroupsSequence/Item[2]/FrameContentSequence/Item[1]/FrameAcquisitionDateTime/value[1]/: Month component of value of DT VR is invalid since > 12 - value is :20231345:
IOD validation complete
"""


def test_argv_is_golden() -> None:
    assert validate_argv("/usr/bin/java", "/usr/share/java/pixelmed.jar", "/x/build", "-Xmx2048m") == [
        "/usr/bin/java",
        "-Djava.awt.headless=true",
        "-Xmx2048m",
        "-Djdk.xml.xpathExprOpLimit=0",
        "-Djdk.xml.xpathExprGrpLimit=0",
        "-Djdk.xml.xpathTotalOpLimit=0",
        "-cp",
        "/usr/share/java/pixelmed.jar:/x/build",
        "PixelMedValidate",
    ]


def test_emri_small() -> None:
    findings, iod, recognised = parse_output(EMRI)
    assert (iod, recognised) == ("EnhancedMRImage", True)
    assert [(f.kind, f.tag, f.path, f.module) for f in findings] == [
        ("missing_type2", "00080070", None, "GeneralEquipmentModule"),
        ("missing_type1", "00080070", None, "EnhancedGeneralEquipmentModule"),
        ("empty_type1", "00181000", None, "EnhancedGeneralEquipmentModule"),
        ("empty_type1", "00181000", None, "EnhancedGeneralEquipmentModule"),
        ("other", None, None, "MultiFrameFunctionalGroupsForEnhancedMRImageModule"),
        ("missing_type1", "52009230", None, "MultiFrameFunctionalGroupsForEnhancedMRImageModule"),
        ("missing_conditional", "00189174", None, "MRImageAndMRSpectroscopyInstanceMacro"),
    ]
    assert findings[1].message == "EnhancedGeneralEquipmentModule/Manufacturer/: Missing required attribute (Type 1)"


def test_planted_defects_and_nested_paths() -> None:
    findings, iod, _ = parse_output(PLANTED)
    assert iod == "EnhancedCTImage"
    assert [(f.kind, f.tag, f.path) for f in findings] == [
        ("bad_date_time", "00080020", None),
        ("bad_uid", "0020000D", None),
        ("bad_uid", "0020000D", None),
        ("bad_vm", "00080060", None),
        ("bad_vr", "00080020", None),
        ("bad_enumerated_value", "00100040", None),
        ("missing_type1", "00281053", "52009229[0].00289145[0].00281053"),
        ("bad_date_time", "00189074", "52009230[1].00209111[0].00189074"),
    ]


def test_unrecognised_iod() -> None:
    findings, iod, recognised = parse_output("IOD (SOP Class) unrecognized\n")
    assert (findings, iod, recognised) == ([], None, False)


def test_kinds() -> None:
    assert kind_of("Conditional attribute present when condition not satisfied") == "not_permitted"
    assert kind_of("Incorrect number of sequence items - got 2 but expected 1") == "bad_vm"
    assert kind_of("Hour component of value of TM VR is invalid since > 23 - value is :25:") == "bad_date_time"
    assert kind_of("Duplicate attribute") == "other"


def test_known_iods() -> None:
    assert len(KNOWN_SOP_CLASSES) == 7
    assert KNOWN_SOP_CLASSES["1.2.840.10008.5.1.4.1.1.2.1"] == "EnhancedCTImage"
    assert "1.2.840.10008.5.1.4.1.1.2" not in KNOWN_SOP_CLASSES  # classic CT Image: not in this release
