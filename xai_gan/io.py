"""Atomic writes (a crash mid-write never leaves a truncated checkpoint, store or report),
locks that make two processes on one run folder take turns, and the comparison of recorded
settings that decides whether saved work belongs to this run."""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one process per run folder there
    fcntl = None


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextmanager
def exclusive(path: str | Path):
    """Hold an advisory lock on ``path`` (a hidden ``.<name>.lock`` beside it) while the
    block runs, so two processes making the same checkpoint or store (two notebooks started
    at once on one run folder) take turns: the second finds the first's work and reuses it
    instead of overwriting it. Where the file system cannot lock (some network mounts), or
    on Windows, the block runs unlocked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        try:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            pass
        yield  # closing the file releases the lock


def save_torch(obj, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: str | Path, map_location="cpu"):
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code is unpickled)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)


def save_json(obj, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str))


def as_json(value):
    """``value`` as JSON would give it back (paths as strings, tuples as lists)."""
    return json.loads(json.dumps(value, default=str))


def differences(saved: dict, current: dict) -> str:
    """The settings of ``current`` that ``saved`` records otherwise, as one readable line
    (long values elided); empty when they agree. Both sides are compared as JSON."""
    saved, current = as_json(saved), as_json(current)
    parts = []
    for key in current:
        if saved.get(key) != current[key]:
            pair = f"{saved.get(key)!r} != {current[key]!r}"
            parts.append(f"{key} {pair}" if len(pair) <= 120 else key)
    return "; ".join(parts)
