"""pydicom's warnings about an input: in the response of the request that read it, not on the terminal.

pydicom reports what it tolerates in a damaged file (``End of file reached before delimiter``, ``Expected
explicit VR, but found implicit VR``, an invalid UI value) through ``pydicom.misc.warn_and_log``: once to the
``pydicom`` logger and once as a ``UserWarning``. ``collected()`` gathers the logger's records of the
requests run inside it (a ``ContextVar``: each thread or task has its own list), so ``api.run`` puts them
in ``response.warnings``; ``quiet_terminal()`` drops the ``UserWarning`` copies, which would otherwise be
printed to stderr by the dozen by a fuzz or conformance run.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from contextvars import ContextVar

PREFIX = "pydicom: "
#: At most this many warnings per response, each at most MAX_CHARS characters.
MAX_WARNINGS = 10
MAX_CHARS = 200
_NON_PRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\ufffd]")

_sink: ContextVar[list[str] | None] = ContextVar("dcmharness_input_warnings", default=None)


def tidy(message: str) -> str:
    """One line, non-printable characters as ``\\xNN``, at most ``MAX_CHARS`` characters."""
    text = _NON_PRINTABLE.sub(lambda m: f"\\x{ord(m.group(0)):02x}", message.strip())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sink = _sink.get()
        if sink is None or len(sink) >= MAX_WARNINGS:
            return
        try:
            text = PREFIX + tidy(record.getMessage())
        except Exception:  # a record that cannot be formatted is not worth a failed request
            return
        if text not in sink:
            sink.append(text)


_COLLECTOR = _Collector(level=logging.WARNING)


def _install() -> None:
    logger = logging.getLogger("pydicom")
    if _COLLECTOR not in logger.handlers:
        logger.addHandler(_COLLECTOR)


@contextlib.contextmanager
def collected() -> Iterator[list[str]]:
    """The pydicom warnings logged while the block runs, in this thread or task (nested blocks share the
    outer list)."""
    _install()
    outer = _sink.get()
    if outer is not None:
        yield outer
        return
    sink: list[str] = []
    token = _sink.set(sink)
    try:
        yield sink
    finally:
        _sink.reset(token)


def quiet_terminal() -> None:
    """Drop pydicom's ``UserWarning`` copies of what ``collected()`` keeps (for the CLI, fuzzer and workers)."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\..*)?$")
