"""Image files that Pillow opens but the pipeline must refuse, for the bad-file tables."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def write_png16_rgb(path: Path) -> None:
    """A 4x4 16-bit-per-channel RGB PNG, written by hand: Pillow writes none, and
    reads one as 8-bit RGB, silently dropping the low bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + bytes(4 * 6) for _ in range(4))  # filter byte, 4 pixels of 6 bytes
    header = struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0)  # 4x4, 16 bits, colour type 2 (RGB)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
