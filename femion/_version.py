"""Package version and source revision."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

try:
    __version__ = metadata.version("femion")
except metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"


@lru_cache(maxsize=1)
def git_revision() -> str:
    """Git commit hash of the source tree (with ``-dirty`` if modified), or ``"unknown"``."""
    root = Path(__file__).resolve().parent.parent
    project = root / "pyproject.toml"
    if not (project.is_file() and 'name = "femion"' in project.read_text(encoding="utf-8")):
        return "unknown"  # an installed copy: the surrounding folder is not femion's source tree
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")
