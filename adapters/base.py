"""The adapter framework: how an external toolkit is found, versioned, checked, run and verified.

An adapter subclasses ``ToolAdapter`` and declares:

- ``name``, ``tools`` (executable names tried on PATH), ``env_var`` (an environment variable naming the
  binary or its folder, e.g. ``DCMTK_HOME``);
- ``capabilities_for(version)``: per op, which options it honours and with which values (``CAPS``);
- ``build_argv(request, info, plan, version)``: a **pure** function from the request to the command line,
  golden-tested without the tool.

Everything else is shared: discovery, ``--version`` parsing, ``unsupported_option`` before anything runs,
running with a timeout (process group killed), exit status interpretation, and verifying that every
output exists and decodes as an image (some tools exit 0 on failure).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcmharness.adapters.runner import ToolError, ToolRun, describe_exit, run_tool
from dcmharness.backends.base import Availability, Backend, Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.options import ToImageOptions

#: A capability for one option: True (every valid value), a tuple of accepted values, or a function
#: returning None when the value is fine and a reason string when it is not.
Capability = bool | tuple[Any, ...] | Callable[[Any, ToImageOptions], str | None]

#: Options whose default value every backend honours by construction (not listed in capability tables).
ALWAYS = {"frame"}


@dataclass(frozen=True)
class ToolInfo:
    path: str
    version: str | None


def sibling(tool: ToolInfo, name: str) -> str:
    """``name`` next to the backend's main binary if it is there, else on PATH, else the bare name."""
    candidate = os.path.join(os.path.dirname(tool.path), name)
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which(name) or name


def option_value(options: Any, name: str) -> Any:
    return getattr(options, name)


def check_capabilities(options: Any, caps: dict[str, Capability], backend: str) -> None:
    """``unsupported_option`` for the first set option (non-default) the capability table does not honour."""
    defaults = type(options)()
    for name in type(options).model_fields:
        value = getattr(options, name)
        if name in ALWAYS:
            continue
        if value == getattr(defaults, name) and name not in caps:
            continue
        if name == "window_preset":
            continue  # resolved into window_center/window_width by the contract
        cap = caps.get(name)
        if cap is None or cap is False:
            if value == getattr(defaults, name):
                continue
            raise unsupported(name, f"{backend} cannot honour {name}={value!r}")
        if cap is True:
            continue
        if isinstance(cap, tuple):
            if value not in cap:
                raise unsupported(
                    name, f"{backend} cannot honour {name}={value!r} (supported: {', '.join(map(repr, cap))})"
                )
            continue
        reason = cap(value, options)
        if reason:
            raise unsupported(name, f"{backend}: {reason}")


def first_version(text: str) -> str | None:
    m = re.search(r"(\d+\.\d+(?:\.\d+)*)", text)
    return m.group(1) if m else None


def version_tuple(version: str | None) -> tuple[int, ...]:
    if not version:
        return (0,)
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


class ToolAdapter(Backend):
    """Base of every command-line adapter."""

    kind = "external"
    tools: tuple[str, ...] = ()
    env_var: str | None = None
    version_args: tuple[str, ...] = ("--version",)
    install_hint: str = ""

    def __init__(self) -> None:
        self._tool: ToolInfo | None = None
        self._searched = False
        self._lock = threading.Lock()  # one discovery, even when threads ask at once

    # -- discovery ------------------------------------------------------------------------------
    def find(self) -> str | None:
        """The tool's path: ``$ENV_VAR`` (the binary, or a folder holding it or its bin/), else PATH."""
        if self.env_var and os.environ.get(self.env_var):
            base = Path(os.environ[self.env_var])
            if base.is_file() and os.access(base, os.X_OK):
                return str(base)
            for folder in (base, base / "bin"):
                for tool in self.tools:
                    cand = folder / tool
                    if cand.is_file() and os.access(cand, os.X_OK):
                        return str(cand)
            return None
        for tool in self.tools:
            found = shutil.which(tool)
            if found:
                return found
        return None

    def parse_version(self, run: ToolRun) -> str | None:
        return first_version(run.stdout_text + "\n" + run.stderr_text)

    def tool(self) -> ToolInfo | None:
        with self._lock:
            if not self._searched:
                self._discover()
        return self._tool

    def _discover(self) -> None:
        """Find the tool and read its version, once (callers hold ``self._lock``)."""
        path = self.find()
        if path:
            version: str | None = None
            try:
                version = self.parse_version(run_tool([path, *self.version_args], timeout=30, env=self.tool_env(None)))
            except HarnessError:
                version = None
            self._tool = ToolInfo(path, version)
        self._searched = True

    def availability(self) -> Availability:
        info = self.tool()
        if info is None:
            where = f"${self.env_var} or PATH" if self.env_var else "PATH"
            hint = f"; {self.install_hint}" if self.install_hint else ""
            return Availability(False, None, f"{'/'.join(self.tools)} not found on {where}{hint}")
        return Availability(True, info.version, location=info.path)

    # -- capabilities ---------------------------------------------------------------------------
    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        """Per op, the capability table for that tool version."""
        return {}

    def capabilities(self) -> dict[str, Any]:
        info = self.tool()
        table = self.capabilities_for(info.version if info else None)
        out: dict[str, Any] = {}
        for op, caps in table.items():
            out[op] = {
                name: (
                    "any" if cap is True else list(cap) if isinstance(cap, tuple) else (cap.__doc__ or "some values")
                )
                for name, cap in caps.items()
                if cap is not False
            }
        return out

    def check(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        warnings = super().check(request, info)
        tool = self.tool()
        table = self.capabilities_for(tool.version if tool else None)
        options = getattr(request, "options", None)
        op = request.op  # type: ignore[attr-defined]
        if op not in table:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"{self.name} does not implement op {op!r}", "op")
        if options is not None:
            check_capabilities(options, table[op], self.name)
        return warnings + self.check_input(request, info)

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        """Refusals that depend on the input (e.g. a transfer syntax the tool cannot decode)."""
        return []

    # -- running --------------------------------------------------------------------------------
    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        raise NotImplementedError

    def tool_env(self, info: InputInfo | None) -> dict[str, str] | None:
        """The environment of the tool's process (None: ours). A tool whose launcher script starts a JVM
        returns ``adapters.jvm.heap_env(...)``: every JVM the project starts has a capped heap."""
        return None

    def run_argv(self, argv: list[str], info: InputInfo | None) -> list[str]:
        """The command line actually run for ``argv`` (default: itself). A native tool without a memory bound
        of its own returns it behind an address-space cap (``adapters.native_memory.capped_argv``)."""
        return argv

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        tool = self.tool()
        if tool is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"{self.name}: tool not found", "backend")
        argv = self.build_argv(request, info, plan, tool)
        run = run_tool(self.run_argv(argv, info), timeout=request.timeout, env=self.tool_env(info))
        self.interpret(run, plan)
        self.collect(request, plan, argv, run)
        result = verify_images(plan, argv, run) if isinstance(request, ToImageRequest) else {}
        return Outcome(result=result, command=argv, stderr=run.stderr_text or None)

    def collect(self, request: RequestBase, plan: OutputPlan, argv: list[str], run: ToolRun) -> None:
        """Move what the tool wrote under its own names onto the plan's temp files (default: nothing to do)."""

    def interpret(self, run: ToolRun, plan: OutputPlan) -> None:
        """Turn a failed exit into ``backend_failed`` (adapters override for tools that exit 0 on failure)."""
        if run.returncode != 0:
            raise ToolError(
                ErrorCode.BACKEND_FAILED,
                f"{os.path.basename(run.argv[0])} failed ({describe_exit(run.returncode)}): "
                + (run.stderr_text.splitlines()[-1] if run.stderr_text else "no message"),
                run.argv,
                run.stderr_text,
            )


def verify_images(plan: OutputPlan, argv: list[str], run: ToolRun | None = None) -> dict[str, Any]:
    """Every planned output exists and is a sound image (PNG: structure and CRCs; others: decoded); the result
    fields from the first one."""
    from PIL import Image

    result: dict[str, Any] = {}
    for target in plan.targets:
        if not target.temp.exists() or target.temp.stat().st_size == 0:
            raise ToolError(
                ErrorCode.BACKEND_FAILED,
                f"{os.path.basename(argv[0])} wrote no output ({target.final.name})",
                argv,
                run.stderr_text if run else None,
            )
        try:
            with Image.open(target.temp) as img:
                # PNG: every chunk's CRC up to IEND (a truncated or damaged file fails) without inflating the
                # pixels, which cost 70 ms on a 1955x1841 image; other formats are decoded whole
                img.verify() if img.format == "PNG" else img.load()
                if not result:
                    mode = img.mode
                    result = {"width": img.width, "height": img.height, "mode": _contract_mode(mode)}
        except Exception as exc:
            raise ToolError(
                ErrorCode.BACKEND_FAILED,
                f"{os.path.basename(argv[0])} wrote an undecodable image: {exc}",
                argv,
                run.stderr_text if run else None,
            ) from None
    frames = [t.frame for t in plan.targets]
    result["frames"] = frames
    result["frame"] = frames[0] if frames else None
    return result


def _contract_mode(mode: str) -> str:
    return {"I;16": "I;16", "I;16B": "I;16", "I": "I;16", "L": "L", "RGB": "RGB", "P": "L", "1": "L"}.get(mode, mode)
