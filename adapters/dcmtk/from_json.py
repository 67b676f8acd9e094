"""``from_json`` on dcmtk: ``json2dcm``, which the installed dcmtk 3.6.7 does not have.

Facts (dcmtk's ``dcmdata/docs/json2dcm.man``, copyright 2024-2025, documented with DCMTK 3.7.0 at
support.dcmtk.org/docs/json2dcm.html; no json2dcm in Debian 12's dcmtk 3.6.7, ``dcm2json --version`` prints
``v3.6.7 2022-04-22``):

- ``json2dcm [options] jsonfile-in dcmfile-out``; ``+f`` reads the document's file meta when present
  (default), ``+F`` writes a file (default); the output transfer syntax is ``+te`` / ``+ti`` / ``+tb`` /
  ``+td`` (``+t=``, the default, keeps the input's);
- BulkDataURI is "not yet supported" (exit 66): the adapter hands it the document with every value inline;
- encapsulated pixel data is not supported (exit 67): such documents are refused before running;
- "The JSON format only supports UTF-8 encoding. Thus the generated DICOM file will also contain UTF-8
  encoding": ``-c`` (``--charset-replace``) declares ISO_IR 192 instead of keeping a Specific Character Set
  that no longer describes the bytes (``+c``, the default, keeps it).

Before 3.7.0 the op is refused (``unsupported_option`` on ``op``) naming the installed version.
"""

from __future__ import annotations

from dcmharness.adapters.base import version_tuple
from dcmharness.contract.errors import ErrorCode, HarnessError

JSON2DCM = "json2dcm"
#: The first DCMTK release documented with json2dcm.
JSON2DCM_SINCE = (3, 7, 0)
#: Transfer syntax UID -> json2dcm's output switch (the native ones; json2dcm writes no encapsulated data).
JSON2DCM_SYNTAXES: dict[str, str] = {
    "1.2.840.10008.1.2": "+ti",
    "1.2.840.10008.1.2.1": "+te",
    "1.2.840.10008.1.2.2": "+tb",
    "1.2.840.10008.1.2.1.99": "+td",
}


def json2dcm_available(version: str | None) -> bool:
    return version_tuple(version) >= JSON2DCM_SINCE


def check_json2dcm(version: str | None, transfer_syntax: str) -> None:
    """Refuse before running: no json2dcm in this release, or an encapsulated transfer syntax. Pure."""
    if not json2dcm_available(version):
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"dcmtk {version or '(unknown version)'} has no json2dcm: it first appears in DCMTK "
            f"{'.'.join(map(str, JSON2DCM_SINCE))}",
            "op",
        )
    if transfer_syntax not in JSON2DCM_SYNTAXES:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"json2dcm does not write encapsulated pixel data (transfer syntax {transfer_syntax})",
            "input",
        )


def json2dcm_argv(tool: str, document: str, output: str, transfer_syntax: str) -> list[str]:
    """``json2dcm +f -c <+te|+ti|+tb|+td> <document> <output>``. Pure."""
    return [tool, "+f", "-c", JSON2DCM_SYNTAXES[transfer_syntax], document, output]
