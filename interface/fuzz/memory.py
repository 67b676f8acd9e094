"""The resident memory of a process and all its descendants, read from /proc (Linux); pure readers + a kill.

The fuzzer's memory limit covers what a case starts (a JVM, dcmtk, Orthanc), not only its worker: the
parent samples each worker's tree and kills the tree when the sum goes over the limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
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


def tree_rss(root: int, parents: Mapping[int, int] | None = None) -> tuple[int, list[int]]:
    """(summed resident bytes, pids) of ``root`` and its descendants."""
    pids = descendants(root, parents if parents is not None else parent_map())
    return sum(rss_bytes(p) for p in pids), pids


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


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL each process (children first would not matter: none of them can react to SIGKILL)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
