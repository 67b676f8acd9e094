"""The statuses of a conformance result, in report order, with what each means."""

from __future__ import annotations

MATCH = "match"
WITHIN_TOLERANCE = "within_tolerance"
EXPLAINED = "explained"
MISMATCH = "mismatch"
UNSUPPORTED = "unsupported"
ERROR = "error"
REFERENCE_ERROR = "reference_error"

STATUSES: dict[str, str] = {
    MATCH: "identical to the reference",
    WITHIN_TOLERANCE: "max difference within the profile's tolerance (1 level; lossy profiles: a PSNR floor)",
    EXPLAINED: "a larger difference covered by a divergence-registry entry",
    MISMATCH: "an unexplained difference (fails the run)",
    UNSUPPORTED: "the backend refused an option or the transfer syntax (unsupported_option / _transfer_syntax)",
    ERROR: "the backend failed where the reference succeeded",
    REFERENCE_ERROR: "the reference failed, nothing to compare against",
}

#: error codes that mean "the backend cannot do this" rather than "the backend broke"
UNSUPPORTED_CODES = frozenset({"unsupported_option", "unsupported_transfer_syntax"})
