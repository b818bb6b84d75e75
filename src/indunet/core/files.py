"""Private files: the data directory is 0700 and every file Indunet keeps in it 0600.

Modes are set explicitly (``chmod`` after creation), so they do not depend on the umask.
SQLite gives a database's ``-wal`` and ``-shm`` files the mode of the database file, so
creating the database file first, 0600, before SQLite opens it keeps those private too.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _chmod(path: Path, mode: int) -> None:
    """Set ``mode``; a path owned by another account is left as it is, with a warning."""
    try:
        os.chmod(path, mode)
    except PermissionError:
        log.warning("cannot make %s mode %o: it belongs to another account", path, mode)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) if needed, and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if it does not exist, and make it 0600 either way."""
    if not path.parent.exists():
        private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``, 0600 from the first byte; refuse to replace a file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def secure_tree(root: Path) -> None:
    """Make ``root`` and the directories under it 0700, and every regular file 0600.

    Run on start, so that files an older version (or an open umask) left readable to
    others are fixed. Symbolic links are neither followed nor changed.
    """
    private_dir(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            p = Path(dirpath, name)
            if not p.is_symlink():
                _chmod(p, DIR_MODE)
        for name in filenames:
            p = Path(dirpath, name)
            if stat.S_ISREG(os.lstat(p).st_mode):
                _chmod(p, FILE_MODE)
