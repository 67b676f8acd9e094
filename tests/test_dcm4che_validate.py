"""dcm4che dcmvalidate: the command line and ValidationResult.asText parsed, golden-tested without dcm4che.

The texts follow dcm4che-core's ValidationResult.appendTextTo / appendInvalidAttributeValues and
DcmValidate.validate (``Validate: <file> ... OK|FAILED:``) as read in dcm4che's source."""

from __future__ import annotations

from dcmharness.adapters.dcm4che.validate import dcmvalidate_argv, parse_output

FAILED = """\
Validate: /d/ct.dcm ... FAILED:
Not allowed Attributes:
(0028,1051) WindowWidth // org.dcm4che3.data.IOD$DataElement@1b6d3586
Missing Attributes:
(0008,0008) ImageType // org.dcm4che3.data.IOD$DataElement@4554617c
(0010,0010) PatientName // org.dcm4che3.data.IOD$DataElement@74a14482
Missing Attribute Values:
(0020,000E) SeriesInstanceUID // org.dcm4che3.data.IOD$DataElement@1540e19d
Invalid Attribute Values:
(0008,0060) Modality [CT\\MR] // org.dcm4che3.data.IOD$DataElement@677327b6
(0008,1115) ReferencedSeriesSequence [1 Items] // org.dcm4che3.data.IOD$DataElement@14ae5a5
>Invalid Item 2:
>Missing Attributes:
>(0020,000E) SeriesInstanceUID // org.dcm4che3.data.IOD$DataElement@7f31245a
"""


def types(tag: str, path: str | None) -> str:
    return "missing_type2" if tag == "00100010" else "missing_type1"


def test_argv() -> None:
    assert dcmvalidate_argv("/opt/d/bin/dcmvalidate", "/opt/d/", "1.2.840.10008.5.1.4.1.1.2", "/x.dcm") == [
        "/opt/d/bin/dcmvalidate",
        "--iod",
        "/opt/d/etc/dcmvalidate/ct-iod.xml",
        "/x.dcm",
    ]
    assert dcmvalidate_argv("dcmvalidate", "/opt/d", "1.2.840.10008.5.1.4.1.1.4", "/x.dcm") is None  # MR: no IOD


def test_ok() -> None:
    assert parse_output("Validate: /d/ct.dcm ... OK\n", types) == ([], True)


def test_failed_blocks_and_nested_item() -> None:
    findings, read = parse_output(FAILED, types)
    assert read is True
    assert [(f.kind, f.tag, f.path) for f in findings] == [
        ("not_permitted", "00281051", None),
        ("missing_type1", "00080008", None),
        ("missing_type2", "00100010", None),
        ("empty_type1", "0020000E", None),
        ("bad_value", "00080060", None),
        ("missing_type1", "0020000E", "00081115[1].0020000E"),
    ]
    assert findings[4].message == "Invalid Attribute Values: Modality [CT\\MR]"


def test_unreadable() -> None:
    findings, read = parse_output("Validate: /d/x.dcm ... FAILED: Not a DICOM Stream\n", types)
    assert read is False
    assert [(f.kind, f.message) for f in findings] == [("unreadable", "Not a DICOM Stream")]
