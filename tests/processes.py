"""payrisk commands in child processes, running this checkout's code (whatever the virtual
environment's editable install points at)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import payrisk
import pipelines


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "payrisk.cli", *args]


def environment(**more: str) -> dict[str, str]:
    """The process environment without PAYRISK_ settings, this checkout on PYTHONPATH, `more`."""
    roots = {str(Path(payrisk.__file__).parents[1]), str(Path(pipelines.__file__).parents[1])}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYRISK_")}
    return {**env, "PYTHONPATH": os.pathsep.join(sorted(roots)), **more}
