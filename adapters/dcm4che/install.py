"""Whether the installed dcm4che carries its OpenCV codecs, read from its folder layout.

dcm4che's binary distribution (``dcm4che-5.x-bin.zip``) puts the jars in ``lib/`` and the native library
in ``lib/<os-arch>/`` (``linux-x86-64``, ``linux-aarch64``, ...; an earlier 5.x wrote ``linux-x86_64``).
Its ``bin/dcm2jpg`` script (dcm4che-assembly/src/bin/dcm2jpg) puts
``lib/dcm4che-imageio-opencv-<v>.jar`` and ``lib/weasis-core-img-<v>.jar`` on the class path and sets
``-Djava.library.path=$DCM4CHE_HOME/lib/<os-arch>`` (unless ``$JAVA_LIBRARY_PATH`` is set), where it expects
``libopencv_java.so``. Without all three the JPEG lossless / JPEG-LS / JPEG 2000 / 12-bit JPEG readers are
missing (a build from source, or a copy without ``lib/<os-arch>/``), and dcm2jpg says "Unsupported Transfer
Syntax" (``limits.py``).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path

OPENCV_JAR = "dcm4che-imageio-opencv-"
WEASIS_JAR = "weasis-core-img-"
NATIVE = "libopencv_java"

#: ``platform.machine()`` -> the folder names of lib/ the distribution uses for that machine on Linux
NATIVE_DIRS: dict[str, tuple[str, ...]] = {
    "x86_64": ("linux-x86-64", "linux-x86_64"),
    "amd64": ("linux-x86-64", "linux-x86_64"),
    "aarch64": ("linux-aarch64",),
    "arm64": ("linux-aarch64",),
    "i686": ("linux-x86", "linux-i686"),
    "armv7l": ("linux-armv7a",),
    "s390x": ("linux-s390x",),
}


def has_opencv(lib_files: Iterable[str], native_files: Iterable[str]) -> bool:
    """The codec jars among ``lib/``'s file names and the native library among the native folder's (pure)."""
    libs = list(lib_files)
    jars = all(any(n.startswith(prefix) and n.endswith(".jar") for n in libs) for prefix in (OPENCV_JAR, WEASIS_JAR))
    native = any(n.startswith(NATIVE) and (n.endswith(".so") or ".so." in n) for n in native_files)
    return jars and native


def home_of(tool_path: str, env: Mapping[str, str]) -> Path:
    """The distribution's folder, as bin/dcm2jpg finds it: ``$DCM4CHE_HOME`` if it is a folder, else bin/.."""
    home = env.get("DCM4CHE_HOME")
    if home and Path(home).is_dir():
        return Path(home)
    return Path(os.path.realpath(tool_path)).parent.parent


def native_folders(home: Path, env: Mapping[str, str], machine: str) -> list[Path]:
    """Where the script makes the JVM look for libopencv_java: ``$JAVA_LIBRARY_PATH`` or lib/<os-arch>/."""
    given = env.get("JAVA_LIBRARY_PATH")
    if given:
        return [Path(p) for p in given.split(os.pathsep) if p]
    return [home / "lib" / name for name in NATIVE_DIRS.get(machine.lower(), ())]


def _names(folder: Path) -> list[str]:
    try:
        return [p.name for p in folder.iterdir() if p.is_file()]
    except OSError:
        return []


def opencv_installed(tool_path: str, env: Mapping[str, str] | None = None, machine: str | None = None) -> bool:
    """Whether the dcm4che holding ``tool_path`` (bin/dcm2jpg) can use its OpenCV codecs on this machine."""
    env = os.environ if env is None else env
    home = home_of(tool_path, env)
    natives = [n for folder in native_folders(home, env, machine or platform.machine()) for n in _names(folder)]
    return has_opencv(_names(home / "lib"), natives)
