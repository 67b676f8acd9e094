"""dcm4che's DICOMweb command-line clients: the argv of ``wadors`` and ``qidors`` for a ``wado`` / ``qido`` request,
as pure functions (golden-tested in ``tests/test_dicomweb.py``). dcm4che is not installable here
(``adapters/dcm4che/README.md``): the dcm4che backend does NOT offer these ops; these functions are the first
half of that work, checked against the tools' sources, not against a run.

Sources read (github.com/dcm4che/dcm4che):

- ``dcm4che-tool/dcm4che-tool-wadors/src/main/java/org/dcm4che3/tool/wadors/WadoRS.java`` @ 4ede896f: options
  ``-a/--accept`` (repeatable), ``--header`` (send Accept as a header; without it the value is appended to the
  URL as ``?accept=`` with ``+`` as ``%2B``), ``--out-dir``, ``-u/--user``, ``--bearer``; each URL argument is
  retrieved in turn; each part is written to ``<out-dir>/<last UID of the URL>-<NNN>.<ext>`` (``NNN`` the
  1-based part number, ``ext`` the last word of the part's content type: ``dicom`` for application/dicom). A
  status other than 200/206 is only logged (``LOG.info(message + ": " + code)``) and the tool exits 0 having
  written nothing; it has no timeout option (the README's ``--request-timeout`` is not in this code), so the
  harness's process timeout is the only bound.
- ``dcm4che-tool/dcm4che-tool-qidors/src/main/java/org/dcm4che3/tool/qidors/QidoRS.java`` @ 88abd031: options
  ``-m attr=value`` (matching keys), ``-i/--includefield`` (repeatable; without it ``includefield=all`` is
  sent), ``-J/--json`` (Accept ``application/json``, response written as ``<out-file>.json``), ``--fuzzy``,
  ``--limit``, ``--out-dir``, ``--out-file`` (default ``qidoResponse``); the search URL is the one argument.
  ``--request-timeout`` is parsed but read back under the misspelt key ``request-timout``, so it is never
  applied: it is not given here either.
- ``stowrs``: the ``StowRS.java`` stored for reading (@ e9f0ee0c) parses its options but its ``main`` never
  calls ``stow()``, and the 5.x rewrite was not available to read: no argv is built for it.
"""

from __future__ import annotations

from dcmharness.backends.dicomweb import qido_path, wado_url
from dcmharness.contract.dicomweb_models import QidoOptions, WadoOptions

#: The Accept value ``wadors`` is given for a retrieval as stored (PS3.18 8.7.3.5.2).
WADORS_DICOM = 'multipart/related;type="application/dicom";transfer-syntax={ts}'


def wadors_argv(tool: str, options: WadoOptions, out_dir: str) -> list[str]:
    """``wadors --header -a <accept> --out-dir <dir> <url>``: Accept as a header (the query-parameter form is not
    part of PS3.18's WADO-RS retrieve), the parts unpacked into ``out_dir``. Pure."""
    accept = WADORS_DICOM.format(ts=options.transfer_syntax_uid)
    return [tool, "--header", "-a", accept, "--out-dir", out_dir, wado_url(options)]


def wadors_part_names(options: WadoOptions, parts: int) -> list[str]:
    """The file names ``wadors`` gives the parts of one retrieval: ``<last UID of the URL>-001.dicom``... Pure."""
    uid = options.sop_instance_uid or options.series_uid or options.study_uid
    return [f"{uid}-{n:03d}.dicom" for n in range(1, parts + 1)]


def qidors_argv(tool: str, options: QidoOptions, out_dir: str) -> list[str]:
    """``qidors -J --out-dir <dir> --out-file qido [-m k=v]... [-i field]... [--fuzzy] [--limit n] <url>``. The
    ``""`` keys of ``query`` become ``-i`` (without any, qidors asks for ``includefield=all``, which returns more
    than the other backends: refused by the caller or compared as such). Pure."""
    argv = [tool, "-J", "--out-dir", out_dir, "--out-file", "qido"]
    for key, value in options.query.items():
        if value != "":
            argv += ["-m", f"{key}={value}"]
    for key, value in options.query.items():
        if value == "":
            argv += ["-i", key]
    if options.fuzzymatching:
        argv.append("--fuzzy")
    if options.limit is not None:
        argv += ["--limit", str(options.limit)]
    argv.append(options.url.rstrip("/") + qido_path(options))
    return argv
