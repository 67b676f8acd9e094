"""Every backend the harness knows, by name, loaded lazily (cold start stays cheap).

An adapter module registers here with one line: its name and "module:Class". Instances are cached
per process so that servers (Orthanc) and batch processes are started once per run.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

from dcmharness.backends.base import Backend
from dcmharness.contract.errors import ErrorCode, HarnessError

BACKENDS: dict[str, str] = {
    "python_ref": "dcmharness.backends.python_ref:PythonRefBackend",
    "pixelmed": "dcmharness.adapters.pixelmed.adapter:PixelMedAdapter",
    "dcm4che": "dcmharness.adapters.dcm4che.render:Dcm4cheAdapter",
    "dcmtk": "dcmharness.adapters.dcmtk.render:DcmtkAdapter",
    "orthanc": "dcmharness.adapters.orthanc.adapter:OrthancAdapter",
    "gdcm": "dcmharness.adapters.gdcm.adapter:GdcmAdapter",
    "rust_render": "dcmharness.adapters.rust_render:RustRenderAdapter",
    "dicom_rs": "dcmharness.adapters.dicom_rs.render:DicomRsAdapter",
    "dcmjs": "dcmharness.adapters.dcmjs.adapter:DcmjsAdapter",
    "dicom3tools": "dcmharness.adapters.dicom3tools.adapter:Dicom3toolsAdapter",
    "python_gdcm": "dcmharness.backends.python_gdcm:PythonGdcmBackend",
    "dcm2niix": "dcmharness.adapters.dcm2niix:Dcm2niixAdapter",
    "dicom2nifti": "dcmharness.adapters.dicom2nifti:Dicom2niftiAdapter",
    "simpleitk": "dcmharness.adapters.simpleitk:SimpleItkAdapter",
    "cornerstone": "dcmharness.adapters.cornerstone.adapter:CornerstoneAdapter",
}

_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def names() -> list[str]:
    return list(BACKENDS)


def get(name: str) -> Backend:
    """The backend called ``name``; ``invalid_request`` (field ``backend``) if there is none."""
    if name not in BACKENDS:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"unknown backend {name!r}; known: {', '.join(BACKENDS)}", "backend"
        )
    with _lock:
        if name not in _instances:
            module_name, _, cls_name = BACKENDS[name].partition(":")
            cls = getattr(importlib.import_module(module_name), cls_name)
            _instances[name] = cls()
        return _instances[name]


def close_all() -> None:
    """Close every backend instantiated in this process (stops servers; idempotent)."""
    with _lock:
        for backend in _instances.values():
            with contextlib.suppress(Exception):
                backend.close()
        _instances.clear()


def backend_class(name: str) -> type[Backend] | None:
    """The class registered as ``name`` (imported, not instantiated); None for an unknown name."""
    if name not in BACKENDS:
        return None
    module_name, _, cls_name = BACKENDS[name].partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), cls_name)
    return cls


def forget_inherited() -> None:
    """In a process forked from a run: drop the parent's instances without closing them (they are the
    parent's: its servers and worker processes); this process then starts and closes its own."""
    global _lock
    _instances.clear()
    _lock = threading.Lock()  # a lock held by another thread at the fork would never be released here
