"""``python_gdcm``: pydicom with the ``python-gdcm`` decoding plugin (PyPI), a second decoder family for
``decode`` beside python_ref's (pylibjpeg / Pillow / pydicom's own RLE).

It decodes what pydicom's gdcm plugin declares: JPEG baseline, extended, lossless (process 14, SV1),
JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy (``DECODER_DEPENDENCIES`` of
``pydicom.pixels.decoders.gdcm``). Native (uncompressed) Pixel Data involves no decoder at all and RLE is not
one of its syntaxes: both are refused (``unsupported_transfer_syntax``) before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dcmharness.backends.base import Availability, Backend, Outcome
from dcmharness.contract.errors import ErrorCode, HarnessError

if TYPE_CHECKING:
    from dcmharness.backends.outputs import OutputPlan
    from dcmharness.backends.preflight import InputInfo
    from dcmharness.contract.models import RequestBase


#: JPEG Extended (Process 2 & 4): pydicom's gdcm plugin refuses its 12-bit form ("GDCM does not support 'JPEG
#: Extended' for samples with 12-bit precision", pydicom/pixels/decoders/gdcm.py).
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"


def gdcm_syntaxes() -> frozenset[str]:
    """The transfer syntaxes pydicom's gdcm plugin decodes."""
    from pydicom.pixels.decoders import gdcm as plugin

    return frozenset(plugin.DECODER_DEPENDENCIES)


class PythonGdcmBackend(Backend):
    name = "python_gdcm"
    kind = "in-process"
    description = "pydicom with the python-gdcm decoding plugin (decode only: compressed syntaxes)."
    ops = ("decode",)

    def availability(self) -> Availability:
        try:
            import gdcm  # type: ignore[import-untyped]
        except Exception as exc:  # not installed, or a broken build
            return Availability(
                False, None, f"python-gdcm not importable ({type(exc).__name__}); pip install python-gdcm"
            )
        return Availability(True, f"python-gdcm {gdcm.Version.GetVersion()}", location="in-process")

    def capabilities(self) -> dict[str, Any]:
        return {
            "decode": {"frame": "any", "color_space": ["native", "rgb"], "transfer_syntaxes": sorted(gdcm_syntaxes())}
        }

    def check(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        warnings = super().check(request, info)
        if (
            info is not None
            and info.transfer_syntax == JPEG_EXTENDED
            and int(info.dataset.get("BitsStored", 8) or 8) > 8
        ):
            raise HarnessError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                "python_gdcm: GDCM does not decode 12-bit JPEG Extended (pydicom's gdcm plugin refuses it)",
                "input",
            )
        if info is not None and info.transfer_syntax not in gdcm_syntaxes():
            raise HarnessError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"python_gdcm decodes {', '.join(sorted(gdcm_syntaxes()))} only, not {info.transfer_syntax}",
                "input",
            )
        return warnings

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        from dcmharness.backends.python_ref.ops_decode import decode
        from dcmharness.contract.ops_models import DecodeRequest

        if not isinstance(request, DecodeRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, "python_gdcm implements decode only", "op")
        outcome = decode(request, info, plan, plugin="gdcm")
        outcome.result["decoder"] = f"pydicom + {self.availability().version}"
        return outcome
