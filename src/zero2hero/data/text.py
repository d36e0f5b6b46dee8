"""Shared low-level file I/O: UTF-8 reading with the failing line named, content hashes, atomic line writing."""
from __future__ import annotations

import codecs
import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

from ..errors import DataError

LINE_BREAKS = re.compile(r"[\t\n\r]")


def read_text(path: str | Path) -> str:
    """Read a UTF-8 file without its byte-order mark; invalid bytes raise a DataError naming their line.

    Every data reader goes through here, so a BOM (as editors on Windows write it) never ends up in the
    first token, premise or JSON key.
    """
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(path, line, f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); expected UTF-8 text") from None


@lru_cache(maxsize=256)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (memoised per path, modification time and size)."""
    stat = Path(path).stat()
    return _sha256(str(path), stat.st_mtime_ns, stat.st_size)


def one_line(text) -> str:
    """`text` with tabs and line breaks turned into spaces, so it cannot break a line-based format."""
    return LINE_BREAKS.sub(" ", str(text))


def write_lines(path: Path, lines) -> None:
    """Write `lines` (without their newlines) atomically: a partial file never stays behind to be read as data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(partial, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    partial.replace(path)
