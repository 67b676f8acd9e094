"""Pure readers of the DICOM header attributes the Java adapters route on (no pixel data)."""

from __future__ import annotations

from typing import Any

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.options import ToImageOptions


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes | int | float):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def text(ds: Any, keyword: str) -> str:
    """The first value of a code string attribute, upper case and stripped ('' when absent)."""
    values = _values(ds.get(keyword))
    return str(values[0]).strip().upper() if values else ""


def stored_windows(ds: Any) -> list[tuple[float, float]]:
    """The file's (centre, width) pairs, in order (only complete pairs)."""
    centers = _values(ds.get("WindowCenter"))
    widths = _values(ds.get("WindowWidth"))
    out: list[tuple[float, float]] = []
    for c, w in zip(centers, widths, strict=False):
        try:
            out.append((float(c), float(w)))
        except (TypeError, ValueError):
            break
    return out


def voi_lut_count(ds: Any) -> int:
    seq = ds.get("VOILUTSequence")
    return len(seq) if seq else 0


def has_modality_lut_sequence(ds: Any) -> bool:
    return bool(ds.get("ModalityLUTSequence"))


def file_voi_function(ds: Any) -> str:
    """The file's VOI LUT Function (0028,1056) in the contract's spelling; 'linear' when absent."""
    return {"LINEAR_EXACT": "linear_exact", "SIGMOID": "sigmoid"}.get(text(ds, "VOILUTFunction"), "linear")


def resolve_voi(options: ToImageOptions, ds: Any) -> tuple[str, int]:
    """The contract's VOI choice for this file: (source, 0-based index), source one of
    explicit / window / lut / minmax / none. ``invalid_request`` (as python_ref) when the file lacks the
    stored window or VOI LUT the request names."""
    if options.explicit_window() is not None:
        return "explicit", 0
    source = options.voi
    index = options.voi_index or 0
    n_luts, n_windows = voi_lut_count(ds), len(stored_windows(ds))
    if source == "auto":
        source = "lut" if n_luts else "window" if n_windows else "minmax"
    field = "options.voi_index" if options.voi_index is not None else "options.voi"
    if source == "lut" and index >= n_luts:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"VOI LUT {index} requested but the file has {n_luts} VOI LUT(s)", field
        )
    if source == "window" and index >= n_windows:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"stored window {index} requested but the file has {n_windows} window(s)", field
        )
    return source, index


def window_function(options: ToImageOptions, ds: Any, source: str) -> str:
    """The window function the contract applies: explicit windows are linear unless asked; stored ones
    take the file's VOI LUT Function unless ``voi_function`` overrides it."""
    if source == "explicit":
        return options.voi_function or "linear"
    return options.voi_function or file_voi_function(ds)


def number(value: float) -> str:
    """A number as Java's parsers read it: integers without a trailing .0, else Python's shortest repr."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
