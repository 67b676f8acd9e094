"""``from_json`` through PixelMed's ``com.pixelmed.dicom.JSONRepresentationOfDicomObjectFactory`` (pixelmed
20220618), run by the project's launcher ``PixelMedFromJson.java`` (one JVM for many documents).

Facts (read in the factory's source, ``addAttributesFromJsonObjectToList``, and checked by running it):

- the reader needs a javax.json implementation the jar's manifest does not list: Debian's ``javax.json.jar``
  (libjsonp-java, a dependency of libpixelmed-java) goes on the class path;
- it reads ``InlineBinary`` only (as little endian), never a BulkDataURI: the adapter hands it the document
  with every bulk value inline (``backends/dicom_json.write_inlined``);
- it drops group lengths, Length to End (0008,0001) and Data Set Trailing Padding (FFFC,FFFC), trims the
  leading and trailing spaces of string values, and refuses an attribute whose VR is not the dictionary's
  ("Dictionary VR <..> does not match VR in attribute"; US/SS and OB/OW ambiguity excepted);
- it parses an AT value with ``new AttributeTag(String)``, which takes ``(0xgggg,0xeeee)`` only, not PS3.18's
  ``ggggeeee`` ("String without pair of group and element numbers"): a document with an AT value is refused;
- Pixel Data from JSON is one plain OB/OW value: it writes native transfer syntaxes only, so a document in an
  encapsulated one is refused before the JVM starts.

PixelMed's own ``main`` (``toDICOM``) removes the document's meta and writes Explicit VR Little Endian only;
the launcher keeps the document's meta and writes its transfer syntax (the contract's semantics).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dcmharness.adapters.pixelmed.launcher import JVM_FLAGS, batch_line

FROM_JSON_CLASS = "PixelMedFromJson"
JSONP_JAR = "/usr/share/java/javax.json.jar"
#: What the launcher writes: the native transfer syntaxes PixelMed's AttributeList.write encodes.
WRITABLE = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
    }
)


def from_json_argv(java: str, jar: str, classes: str, heap: str, jsonp: str = JSONP_JAR) -> list[str]:
    """The launcher's command line (jobs on its standard input); ``heap`` its ``-Xmx``. Pure."""
    return [java, *JVM_FLAGS, heap, "-cp", os.pathsep.join((jar, jsonp, classes)), FROM_JSON_CLASS]


def from_json_job(document: Path, output: Path, transfer_syntax: str) -> str:
    """One job line: the inlined document, the file to write, the transfer syntax UID. Pure."""
    return batch_line([str(document), str(output), transfer_syntax])


def first_at_value(model: dict[str, Any], where: str = "") -> str | None:
    """The place of the first AT attribute with a value (PixelMed cannot read it), or None. Pure."""
    for tag, elem in model.items():
        here = f"{where}.{tag}" if where else tag
        if elem.get("vr") == "AT" and elem.get("Value"):
            return here
        if elem.get("vr") == "SQ":
            for i, item in enumerate(elem.get("Value") or []):
                found = first_at_value(item, f"{here}[{i}]")
                if found is not None:
                    return found
    return None
