"""PixelMed's ``com.pixelmed.validate.DicomInstanceValidator`` (pixelmed 20220618): its command line through the
project's launcher (``PixelMedValidate.java``), the IODs it knows, and its output parsed. All pure.

Its text (CommonDicomIODValidationRules.xsl, DicomIODDescriptionsCompiled.xsl in the jar):

    Found EnhancedCTImage IOD
    Error: GeneralStudyModule/StudyDate/: StudyDate/value[1]/: Month component of value of DA VR is invalid ...
    Error: EnhancedCTImageModule/ImageType/: : Missing required attribute (Type 1)
    IOD validation complete

i.e. ``SEVERITY: <Module>/<keyword>/.../: <instance path>: <message>``; the instance path is made of
keywords, ``Item[n]`` (1-based items) and ``value[n]`` (1-based values), empty when the attribute is
missing. A file of another SOP Class gets ``IOD (SOP Class) unrecognized``: this release defines seven IODs
only (``KNOWN_SOP_CLASSES``), so the adapter refuses the others before running anything.
"""

from __future__ import annotations

import os
import re

from dcmharness.adapters.pixelmed.launcher import JVM_FLAGS
from dcmharness.backends.findings import Step, finding, path_text, tag_of_keyword
from dcmharness.contract.ops_models import Finding

VALIDATE_CLASS = "PixelMedValidate"
#: Java 17's JAXP refuses the validator's stylesheets (JAXP0801003: more than 10,000 XPath operators)
#: unless these limits are lifted.
XPATH_FLAGS = ("-Djdk.xml.xpathExprOpLimit=0", "-Djdk.xml.xpathExprGrpLimit=0", "-Djdk.xml.xpathTotalOpLimit=0")
#: The ``defineiod`` entries of DicomIODDescriptionsCompiled.xsl in pixelmed 20220618: SOP Class -> IOD.
KNOWN_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation",
    "1.2.840.10008.5.1.4.1.1.66": "RawData",
    "1.2.840.10008.5.1.4.1.1.2.1": "EnhancedCTImage",
    "1.2.840.10008.5.1.4.1.1.2.2": "LegacyConvertedEnhancedCTImage",
    "1.2.840.10008.5.1.4.1.1.4.1": "EnhancedMRImage",
    "1.2.840.10008.5.1.4.1.1.4.4": "LegacyConvertedEnhancedMRImage",
    "1.2.840.10008.5.1.4.1.1.4.2": "MRSpectroscopy",
}

_LINE = re.compile(r"^(Error|Warning): (.*?): (.*?): (.*)$")
_FOUND = re.compile(r"^Found (\S+) IOD$")
_INDEXED = re.compile(r"^(Item|value)\[(\d+)\]$")

#: (message pattern, kind), first match wins.
KIND_PATTERNS: tuple[tuple[str, str], ...] = (
    ("Missing required attribute (Type 1)", "missing_type1"),
    ("Missing required sequence attribute (Type 1)", "missing_type1"),
    ("Missing required attribute (Type 2)", "missing_type2"),
    ("Missing required sequence attribute (Type 2)", "missing_type2"),
    ("may not be zero length", "empty_type1"),
    ("must have at least one item", "empty_type1"),
    ("Incorrect value multiplicity - got 0 ", "empty_type1"),
    ("Missing conditional attribute", "missing_conditional"),
    ("Conditional attribute present when condition not satisfied", "not_permitted"),
    ("Incorrect VR", "bad_vr"),
    ("Incorrect value multiplicity", "bad_vm"),
    ("Incorrect number of sequence items", "bad_vm"),
    ("Unrecognized enumerated value", "bad_enumerated_value"),
    ("Unrecognized defined term", "bad_enumerated_value"),
    (" UI VR", "bad_uid"),
    (" DA VR", "bad_date_time"),
    (" DT VR", "bad_date_time"),
    (" TM VR", "bad_date_time"),
    (" VR", "bad_value"),
)


def validate_argv(java: str, jar: str, classes: str, heap: str) -> list[str]:
    """The launcher's command line (file paths go to its standard input, one per line); ``heap`` is its
    ``-Xmx`` (``adapters/jvm.py``: the launcher lives for the run, so it gets the largest cap)."""
    return [java, *JVM_FLAGS, heap, *XPATH_FLAGS, "-cp", f"{jar}{os.pathsep}{classes}", VALIDATE_CLASS]


def kind_of(message: str) -> str:
    for pattern, kind in KIND_PATTERNS:
        if pattern in message:
            return kind
    return "other"


def _steps(instance: str, description: str) -> list[Step]:
    """The attribute's steps from the instance path (keywords, Item[n]); the description's last keyword
    completes it when the instance path stops at the parent (a missing attribute)."""
    steps: list[Step] = []
    for token in (t for t in instance.split("/") if t):
        m = _INDEXED.match(token)
        if m:
            if m.group(1) == "Item" and steps:
                steps[-1] = (steps[-1][0], int(m.group(2)) - 1)
            continue
        tag = tag_of_keyword(token)
        if tag is None:
            return []
        steps.append((tag, None))
    keywords = [t for t in description.split("/") if t][1:]  # the first token is the module
    last = tag_of_keyword(keywords[-1]) if keywords else None
    if last is not None and (not steps or steps[-1][0] != last):
        if not steps:
            steps = [(t, None) for t in (tag_of_keyword(k) for k in keywords) if t is not None]
        else:
            steps.append((last, None))
    return [(tag, None if k == len(steps) - 1 else index) for k, (tag, index) in enumerate(steps)]


def parse_output(text: str) -> tuple[list[Finding], str | None, bool]:
    """(findings, IOD name, recognised?) of the validator's text."""
    findings: list[Finding] = []
    iod: str | None = None
    recognised = "IOD (SOP Class) unrecognized" not in text
    for line in text.splitlines():
        found = _FOUND.match(line.strip())
        if found:
            iod = found.group(1)
            continue
        m = _LINE.match(line.rstrip())
        if m is None:
            continue
        severity, description, instance, message = m.groups()
        steps = _steps(instance, description)
        module = description.split("/", 1)[0] or None
        findings.append(
            finding(
                "error" if severity == "Error" else "warning",
                kind_of(message),
                f"{instance or description}: {message}",
                tag=steps[-1][0] if steps else None,
                path=path_text(steps),
                module=module,
            )
        )
    return findings, iod, recognised
