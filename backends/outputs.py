"""Output planning and atomic commit, shared by every backend.

Each output is first written to a temporary file in its target folder (same file system, same
suffix so tools that pick the format by extension still work), then moved into place: with
``overwrite`` by ``os.replace``; without it by ``os.link`` + unlink, which fails atomically if the
target appeared meanwhile (two concurrent requests for one output: one wins, the other gets
``output_exists``; never an interleaved file). A failed request removes its temporary files.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dcmharness.contract.errors import ErrorCode, HarnessError


@dataclass
class OutputTarget:
    final: Path
    temp: Path
    frame: int | None = None


@dataclass
class OutputPlan:
    targets: list[OutputTarget] = field(default_factory=list)
    overwrite: bool = False

    @property
    def temps(self) -> list[Path]:
        return [t.temp for t in self.targets]

    def discard(self) -> None:
        for t in self.targets:
            with contextlib.suppress(OSError, ValueError):
                t.temp.unlink()

    def commit(self) -> list[str]:
        done: list[Path] = []
        try:
            for t in self.targets:
                if not t.temp.exists():
                    raise HarnessError(ErrorCode.BACKEND_FAILED, f"the backend wrote no output for {t.final.name}")
                if self.overwrite:
                    os.replace(t.temp, t.final)
                else:
                    try:
                        os.link(t.temp, t.final)
                    except FileExistsError:
                        raise HarnessError(
                            ErrorCode.OUTPUT_EXISTS,
                            f"output exists (appeared while rendering): {t.final}",
                            "output",
                        ) from None
                    except OSError:  # file systems without hard links: best effort
                        if t.final.exists():
                            raise HarnessError(ErrorCode.OUTPUT_EXISTS, f"output exists: {t.final}", "output") from None
                        os.replace(t.temp, t.final)
                    with contextlib.suppress(OSError):
                        t.temp.unlink()
                done.append(t.final)
        except BaseException:
            self.discard()
            for p in done:  # all or nothing
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
        return [str(p) for p in done]


def frame_path(output: Path, frame: int) -> Path:
    """``us.png`` -> ``us_0003.png`` (the documented naming of ``frame: "all"``)."""
    return output.with_name(f"{output.stem}_{frame:04d}{output.suffix}")


def temp_for(final: Path) -> Path:
    return final.with_name(f".{final.stem}.dcmharness-{os.getpid()}-{secrets.token_hex(4)}.tmp{final.suffix}")


def plan_outputs(finals: list[tuple[Path, int | None]], overwrite: bool) -> OutputPlan:
    """Check every final path (folder exists, not a folder, exists only with overwrite) and plan temps."""
    plan = OutputPlan(overwrite=overwrite)
    for final, frame in finals:
        parent = final.parent
        if not parent.is_dir():
            raise HarnessError(ErrorCode.OUTPUT_DIR_MISSING, f"output folder does not exist: {parent}", "output")
        if final.is_dir():
            raise HarnessError(ErrorCode.OUTPUT_EXISTS, f"output is a folder: {final}", "output")
        if final.exists() and not overwrite:
            raise HarnessError(
                ErrorCode.OUTPUT_EXISTS, f'output exists: {final} (set "overwrite": true to replace it)', "output"
            )
        plan.targets.append(OutputTarget(final=final, temp=temp_for(final), frame=frame))
    return plan
