"""The resident memory of a process and all its descendants, read from /proc (Linux); pure readers + a kill.

The fuzzer's memory limit covers what a case starts (a JVM, dcmtk, Orthanc, Node, Chromium), not only its
worker: the parent samples each worker's tree (its descendants, and the processes carrying the case's marker
in their environment: Chromium's crash handler double-forks out of the tree) and kills the tree when the sum
of their proportional set sizes goes over the limit. Proportional, because a sum of resident sizes counts
a page shared by several processes once per process: Chromium's seven processes share most of their pages
(observed: a browser session and Orthanc summed 1121 MB resident, far less in PSS).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from collections.abc import Iterable, Mapping

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parent_map(proc: str = "/proc") -> dict[int, int]:
    """pid -> parent pid of every process visible (those that vanish while read are left out)."""
    parents: dict[int, int] = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"{proc}/{name}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
            # the command name (field 2) is in parentheses and may hold spaces: fields after the last ')'
            parents[int(name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return parents


def descendants(root: int, parents: Mapping[int, int]) -> list[int]:
    """``root`` and every process below it (pure)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def rss_bytes(pid: int, proc: str = "/proc") -> int:
    """Resident set size of one process (0 when it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError), open(f"{proc}/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE
    return 0


def pss_bytes(pid: int, proc: str = "/proc") -> int:
    """Proportional set size of one process (``smaps_rollup``: a shared page counts 1/n in each of its n
    processes); its resident size where the kernel has no ``smaps_rollup``; 0 when it is gone."""
    try:
        with open(f"{proc}/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        return rss_bytes(pid, proc) if os.path.exists(f"{proc}/{pid}") else 0
    except (OSError, ValueError, IndexError):
        return 0
    return rss_bytes(pid, proc)


def tree_rss(root: int, parents: Mapping[int, int] | None = None, extra: Iterable[int] = ()) -> tuple[int, list[int]]:
    """(summed proportional set bytes, pids) of ``root``, its descendants and the ``extra`` pids."""
    pids = descendants(root, parents if parents is not None else parent_map())
    pids += [p for p in extra if p not in pids]
    return sum(pss_bytes(p) for p in pids), pids


def peak_rss_bytes(pid: int, proc: str = "/proc") -> int:
    """The process's peak resident size since it started or since ``reset_peak`` (``VmHWM``; 0 when gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError), open(f"{proc}/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int, proc: str = "/proc") -> None:
    """Start the process's ``VmHWM`` again from its current resident size (``clear_refs`` 5, Linux 4.0+)."""
    with contextlib.suppress(OSError), open(f"{proc}/{pid}/clear_refs", "w") as f:
        f.write("5")


def command_name(pid: int, proc: str = "/proc") -> str:
    """The process's command name (``/proc/PID/comm``), or ``?`` when it is gone."""
    try:
        with open(f"{proc}/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip() or "?"
    except OSError:
        return "?"


def largest(pids: Iterable[int]) -> tuple[str, int]:
    """(command name, resident bytes) of the largest of ``pids``."""
    sizes = [(rss_bytes(p), p) for p in pids]
    size, pid = max(sizes) if sizes else (0, 0)
    return command_name(pid), size


def census(pids: Iterable[int]) -> str:
    """The command names of ``pids``, counted: ``chromium x5, node, python3`` (sorted by name)."""
    counts = Counter(command_name(p) for p in pids)
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in sorted(counts.items()))


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL each process (children first would not matter: none of them can react to SIGKILL)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def environ_has(pid: int, entry: bytes, proc: str = "/proc") -> bool:
    """Whether ``entry`` (``NAME=value``) is in the process's environment (False when gone or unreadable)."""
    try:
        with open(f"{proc}/{pid}/environ", "rb") as f:
            return entry in f.read().split(b"\0")
    except OSError:
        return False


def marked(entry: bytes, pids: Iterable[int], proc: str = "/proc") -> list[int]:
    """Those of ``pids`` whose environment holds ``entry``: a case's processes, found even after their parent
    died (they are reparented then, out of the parent's tree) or when they double-forked."""
    return [pid for pid in pids if environ_has(pid, entry, proc)]
