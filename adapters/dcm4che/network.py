"""dcm4che's DICOM network clients as argv (pure, golden-tested in ``tests/test_network_clients.py``):
``storescu`` (echo: no file given; store), ``findscu`` (find), ``getscu`` (get). dcm4che is not installable on
this machine (``adapters/dcm4che/README.md``), so these are not run: they are the mapping a run would use.

Facts (dcm4che 5.x tool sources, ``messages.properties`` of dcm4che-tool-common, -storescu, -findscu,
-getscu):

- ``-c AET@host:port`` is the peer, ``-b AET`` our calling AE title; timeouts are milliseconds:
  ``--connect-timeout`` (TCP), ``--accept-timeout`` (A-ASSOCIATE-AC), ``--response-timeout`` (DIMSE
  responses other than C-GET/C-MOVE), ``--retrieve-timeout`` (C-GET responses), ``--release-timeout``.
- ``storescu`` with no file sends a C-ECHO ("If no DICOM file is specified, it sends a DICOM C-ECHO message").
- ``findscu``/``getscu``: ``-M StudyRoot|PatientRoot``, ``-L LEVEL``, ``-m Keyword=value`` a matching key,
  ``-r Keyword`` a return key (the contract's ``""``); ``findscu --out-dir D --out-file 000.dcm`` writes
  each match as a DICOM file (zeros replaced by its number); ``getscu --directory D`` stores what it gets.
"""

from __future__ import annotations

import math
import os

from dcmharness.contract.ops_models import NetworkOptions

FIND_MODELS = {"study_root": "StudyRoot", "patient_root": "PatientRoot"}


def _ms(seconds: float) -> str:
    return str(math.ceil(seconds * 1000))


def common_argv(tool: str, opts: NetworkOptions, dimse_flag: str = "--response-timeout") -> list[str]:
    """Peer, AE titles and the timeouts every dcm4che SCU takes. Pure."""
    ms = _ms(opts.timeout)
    return [
        tool,
        "-c",
        f"{opts.called_aet}@{opts.host}:{opts.port}",
        "-b",
        opts.calling_aet,
        "--connect-timeout",
        ms,
        "--accept-timeout",
        ms,
        dimse_flag,
        ms,
        "--release-timeout",
        ms,
    ]


def storescu_argv(tool: str, opts: NetworkOptions, files: list[str]) -> list[str]:
    """``storescu``: a C-ECHO without files, else a C-STORE of each file over one association. Pure."""
    return [*common_argv(tool, opts), *(os.path.abspath(f) for f in files)]


def query_keys(query: dict[str, str]) -> list[str]:
    """``-m Keyword=value`` for a matching key, ``-r Keyword`` for a return key (empty value). Pure."""
    out: list[str] = []
    for key, value in query.items():
        out += ["-m", f"{key}={value}"] if value else ["-r", key]
    return out


def findscu_argv(
    tool: str, opts: NetworkOptions, level: str, model: str, query: dict[str, str], outdir: str
) -> list[str]:
    """``findscu``: one C-FIND; each match written as ``outdir/NNN.dcm``. Pure."""
    return [
        *common_argv(tool, opts),
        "-M",
        FIND_MODELS[model],
        "-L",
        level.upper(),
        *query_keys(query),
        "--out-dir",
        outdir,
        "--out-file",
        "000.dcm",
    ]


def getscu_argv(
    tool: str, opts: NetworkOptions, level: str, model: str, keys: dict[str, str], outdir: str
) -> list[str]:
    """``getscu``: one C-GET; what it receives stored under ``outdir``. Pure."""
    return [
        *common_argv(tool, opts, "--retrieve-timeout"),
        "-M",
        FIND_MODELS[model],
        "-L",
        level.upper(),
        *(x for key, value in keys.items() for x in ("-m", f"{key}={value}")),
        "--directory",
        outdir,
    ]
