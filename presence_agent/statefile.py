"""Small JSON files in the state dir (a timed status, an owned status): read bounded, written
atomically, so a crash mid-write leaves the old file or the new one, never half of one.

Thread use: whoever owns the file (the engine's thread).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from presence_agent.paths import private_dir

__all__ = ["finite", "read_json", "write_json"]

#: A state file holds one small object; a bigger one is damaged, and is not read whole.
MAX_SIZE = 4096


def read_json(path: Path) -> Any:
    """The JSON value in ``path`` (its first :data:`MAX_SIZE` bytes). Raises
    ``FileNotFoundError`` when there is none, ``OSError`` or ``ValueError`` when damaged."""
    with path.open("rb") as handle:
        return json.loads(handle.read(MAX_SIZE))


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` atomically (a temporary file in the same directory,
    then a rename), creating the directory if needed, private (0700: what the person chose
    and when is theirs; presence_agent/paths.py). Raises ``OSError``."""
    private_dir(path.parent, own_link=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def finite(value: object) -> float:
    """``value`` as a float if it is a finite number (not a bool), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)
