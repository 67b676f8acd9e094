"""Typed options of each op. Unknown keys are rejected; the meaning of every field is in SEMANTICS.md."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ImageFormat = Literal["png", "jpeg", "tiff", "pnm"]
VoiSource = Literal["auto", "window", "lut", "minmax", "none"]
VoiFunction = Literal["linear", "linear_exact", "sigmoid"]
Presentation = Literal["auto", "identity", "inverse"]
WindowPresetName = Literal["soft_tissue", "lung", "bone", "brain", "liver", "mediastinum"]
#: A well-known colour palette (PS3.6 Annex B), by the option's name or by its SOP Instance UID.
ColormapName = Literal[
    "hot_iron", "pet", "hot_metal_blue", "pet_20_step", "spring", "summer", "fall", "winter",
    "1.2.840.10008.1.5.1", "1.2.840.10008.1.5.2", "1.2.840.10008.1.5.3", "1.2.840.10008.1.5.4",
    "1.2.840.10008.1.5.5", "1.2.840.10008.1.5.6", "1.2.840.10008.1.5.7", "1.2.840.10008.1.5.8",
]  # fmt: skip

#: The well-known colour palettes of PS3.6 Annex B (Table B.1-1): option name -> (Content Label
#: (0070,0080), SOP Instance UID).
WELL_KNOWN_PALETTES: dict[str, tuple[str, str]] = {
    "hot_iron": ("HOT_IRON", "1.2.840.10008.1.5.1"),
    "pet": ("PET", "1.2.840.10008.1.5.2"),
    "hot_metal_blue": ("HOT_METAL_BLUE", "1.2.840.10008.1.5.3"),
    "pet_20_step": ("PET_20_STEP", "1.2.840.10008.1.5.4"),
    "spring": ("SPRING", "1.2.840.10008.1.5.5"),
    "summer": ("SUMMER", "1.2.840.10008.1.5.6"),
    "fall": ("FALL", "1.2.840.10008.1.5.7"),
    "winter": ("WINTER", "1.2.840.10008.1.5.8"),
}

#: The common CT window presets as (center, width), in Hounsfield units.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "soft_tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "liver": (60.0, 150.0),
    "mediastinum": (50.0, 350.0),
}

#: File extensions (lower case, with the dot) and the format they imply.
EXTENSION_FORMATS: dict[str, str] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".pgm": "pnm",
    ".ppm": "pnm",
    ".pnm": "pnm",
}

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class OptionError(ValueError):
    """A value error that knows which option is at fault (read back by the error mapper)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ToImageOptions(_Options):
    """Options of ``to_image``: render one frame (or all) of a DICOM image to PNG/JPEG/TIFF/PNM."""

    frame: int | Literal["all"] = Field(
        0,
        description='0-based frame to render, or "all" (one file per frame).',
    )
    format: ImageFormat | None = Field(
        None,
        description="Output format; default from the output's extension, else png.",
    )
    bit_depth: Literal[8, 16] = Field(8, description="Output sample depth (16: png, tiff, pnm only).")
    quality: int | None = Field(None, ge=1, le=100, description="JPEG quality 1..100 (default 90).")
    png_compression: int | None = Field(
        None,
        ge=0,
        le=9,
        description="zlib level for PNG (0..9); default: the backend's own.",
    )
    window_center: float | None = Field(None, description="Explicit window centre (modality units).")
    window_width: float | None = Field(None, gt=0, description="Explicit window width (> 0).")
    window_preset: WindowPresetName | None = Field(
        None,
        description="A CT preset, resolved into window_center/window_width.",
    )
    voi_function: VoiFunction | None = Field(
        None,
        description="Window function; default: the file's VOI LUT Function, else linear.",
    )
    voi: VoiSource = Field("auto", description="Which VOI transform applies (see SEMANTICS.md).")
    voi_index: int | None = Field(
        None,
        ge=0,
        description="0-based index of the stored window (voi=window) or VOI LUT (voi=lut).",
    )
    modality_lut: bool = Field(True, description="Apply the Modality LUT stage (rescale or LUT).")
    presentation: Presentation = Field("auto", description="Presentation LUT shape override.")
    colormap: ColormapName | None = Field(
        None,
        description="Pseudo-colour a grayscale image with a well-known palette (PS3.6 Annex B), by name or "
        "SOP Instance UID, after the presentation stage: RGB output.",
    )
    overlays: bool | list[int] = Field(
        True,
        description="Burn in overlays: all (true), none (false), or these 0-based planes.",
    )
    overlay_value: int | str | None = Field(
        None,
        description='Overlay gray level (0..ymax) or "#rrggbb" on colour output; default white.',
    )

    @model_validator(mode="before")
    @classmethod
    def _resolve_preset(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("window_preset") is not None:
            preset = data["window_preset"]
            if preset in WINDOW_PRESETS and (
                data.get("window_center") is not None or data.get("window_width") is not None
            ):
                raise OptionError(
                    "window_preset", "window_preset conflicts with an explicit window_center/window_width"
                )
            if preset in WINDOW_PRESETS:
                center, width = WINDOW_PRESETS[preset]
                data = {**data, "window_center": center, "window_width": width}
        return data

    @model_validator(mode="after")
    def _check(self) -> ToImageOptions:
        if isinstance(self.frame, int) and (isinstance(self.frame, bool) or self.frame < 0):
            raise OptionError("frame", 'frame must be a 0-based integer >= 0 or "all"')
        has_c = self.window_center is not None
        has_w = self.window_width is not None
        if has_c != has_w:
            raise OptionError("window_width", "window_center and window_width go together: give both or neither")
        if has_c and self.voi not in ("auto", "window"):
            raise OptionError("voi", f"an explicit window conflicts with voi={self.voi!r}")
        if has_c and self.voi_index is not None:
            raise OptionError(
                "voi_index", "voi_index selects a stored window or LUT; it conflicts with an explicit window"
            )
        if self.voi_index is not None and self.voi not in ("window", "lut"):
            raise OptionError("voi_index", 'voi_index needs voi "window" or "lut"')
        if has_c and self.window_width is not None and self.window_width < 1 and self.voi_function in (None, "linear"):
            raise OptionError("window_width", "a LINEAR window needs window_width >= 1 (PS3.3 C.11.2.1.2.1)")
        if self.format == "jpeg" and self.bit_depth == 16:
            raise OptionError("bit_depth", "jpeg output is 8-bit: bit_depth 16 needs png, tiff or pnm")
        if self.quality is not None and self.format not in (None, "jpeg"):
            raise OptionError("quality", "quality applies to jpeg output only")
        if self.png_compression is not None and self.format not in (None, "png"):
            raise OptionError("png_compression", "png_compression applies to png output only")
        if isinstance(self.overlays, list):
            if any(isinstance(p, bool) or not 0 <= p <= 15 for p in self.overlays):
                raise OptionError("overlays", "overlay planes are 0-based integers 0..15")
            if len(set(self.overlays)) != len(self.overlays):
                raise OptionError("overlays", "overlay planes are listed twice")
        if isinstance(self.overlay_value, str) and not _COLOUR.match(self.overlay_value):
            raise OptionError("overlay_value", 'overlay_value is a gray level or a colour "#rrggbb"')
        if isinstance(self.overlay_value, int) and not isinstance(self.overlay_value, bool):
            limit = 255 if self.bit_depth == 8 else 65535
            if not 0 <= self.overlay_value <= limit:
                raise OptionError("overlay_value", f"overlay_value must be 0..{limit} for bit_depth {self.bit_depth}")
        return self

    def explicit_window(self) -> tuple[float, float] | None:
        """The explicit (center, width), if the request gives one (directly or as a preset)."""
        if self.window_center is None or self.window_width is None:
            return None
        return (self.window_center, self.window_width)

    def non_default(self) -> dict[str, object]:
        """The options the request set to something other than the default (for capability checks)."""
        return self.model_dump(exclude_defaults=True)


def palette_name(colormap: str) -> str:
    """The option name of a well-known palette given by name or SOP Instance UID (``colormap``'s values)."""
    for name, (_label, uid) in WELL_KNOWN_PALETTES.items():
        if colormap in (name, uid):
            return name
    raise OptionError("colormap", f"{colormap!r} is not a well-known colour palette of PS3.6 Annex B")


def format_for(output: str | None, options: ToImageOptions) -> str:
    """The output format: the explicit option, else the output's extension, else png."""
    if options.format is not None:
        return options.format
    if output:
        lowered = output.lower()
        for ext, fmt in EXTENSION_FORMATS.items():
            if lowered.endswith(ext):
                return fmt
    return "png"


FORMAT_EXTENSIONS: dict[str, str] = {"png": ".png", "jpeg": ".jpg", "tiff": ".tiff", "pnm": ".pnm"}
