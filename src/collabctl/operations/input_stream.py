"""The one reader of a command's input: bytes in blocks, and the lines they hold.

``import`` and ``end --from`` read their input through :class:`InputStream`:

- read in large blocks, as bytes (``os.read`` on a file descriptor; an in-memory
  stream through its bytes when it has any, else its text encoded so that a lone
  surrogate stays visible as bytes that are not UTF-8);
- a UTF-8 byte-order mark at the start of the input dropped (even when it comes
  over two reads); anywhere else it is data;
- ``position`` (bytes read) and ``size`` (what is left of a regular file when
  reading starts), so a progress display can show how far it got;
- :meth:`InputStream.ready`, which says whether a read would return at once, so
  that the items read so far can be finished (and their results shown) while a
  pipe or terminal has nothing more yet, instead of waiting for the producer;
- :meth:`InputStream.lines`: the lines, without their ``\\n``; ``None`` where the
  input pauses; a line longer than a given limit is not kept in memory and stands
  as an :class:`OverlongLine`.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["BLOCK", "BOM", "InputStream", "OverlongLine"]

#: bytes of one ordinary read
BLOCK = 1 << 16
#: a UTF-8 byte-order mark
BOM = b"\xef\xbb\xbf"


class OverlongLine:
    """Stands for a line longer than the reader's limit, which is not kept in memory."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length


class InputStream:
    """The bytes of an input stream, read in blocks of ``block`` bytes."""

    def __init__(self, stream: IO[Any], block: int = BLOCK) -> None:
        self.stream = stream  # kept open as long as it is read
        self.position = 0
        self.size: int | None = None
        self._block = block
        self._fd: int | None = None
        self._regular = True
        self._start = True  # a byte-order mark may still come
        self._read: Callable[[int], bytes]
        try:
            fd = stream.fileno()
            info = os.fstat(fd)
        except (AttributeError, OSError, ValueError):  # in-memory streams (tests, libraries)
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                self._read = buffer.read
            elif isinstance(stream.read(0), bytes):
                self._read = stream.read
            else:  # text: lone surrogates stay visible as bytes that are not UTF-8
                self._read = lambda n: stream.read(n).encode("utf-8", "surrogatepass")
            return
        self._fd = fd
        self._regular = stat.S_ISREG(info.st_mode)
        if self._regular:
            self.size = max(info.st_size - os.lseek(fd, 0, os.SEEK_CUR), 0)
        self._read = lambda n: os.read(fd, n)

    def block(self) -> int:
        """The size of one ordinary read."""
        return self._block

    def read(self, size: int | None = None) -> bytes:
        """Up to ``size`` bytes (a block by default); empty at the end of the input."""
        data = self._read(size or self._block)
        self.position += len(data)
        if self._start and data:
            data = self._after_bom(data)
        return data

    def _after_bom(self, data: bytes) -> bytes:
        while len(data) < len(BOM) and BOM.startswith(data):  # the mark over two reads
            more = self._read(self._block)
            if not more:
                break
            self.position += len(more)
            data += more
        self._start = False
        if not data.startswith(BOM):
            return data
        if len(data) == len(BOM):  # the mark alone: empty would say the input ended
            return self.read()
        return data[len(BOM) :]

    def ready(self) -> bool:
        """Whether a read would return at once (data or end of input)."""
        if self._regular or self._fd is None or os.name == "nt":
            # a file or memory always is; select() does not take pipes on Windows
            return True
        try:
            return bool(select.select([self._fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def lines(
        self, initial: bytes = b"", limit: int | None = None
    ) -> Iterator[bytes | OverlongLine | None]:
        """The lines of the input after ``initial`` (bytes already read from it), without
        their ``\\n``; ``None`` whenever no further input is ready yet. A line longer than
        ``limit`` bytes is not kept (memory stays flat): an :class:`OverlongLine` stands
        for it."""
        most = sys.maxsize if limit is None else limit
        held: list[bytes] = []  # the start of the current line, from earlier blocks
        held_length = 0  # its length, kept or not
        dropped = False  # the current line is too long: its bytes are not kept
        block = initial
        while True:
            if block:
                pieces = block.split(b"\n")
                last = pieces.pop()
                if pieces:
                    if held_length:  # the line that began in an earlier block ends here
                        first = pieces[0]
                        length = held_length + len(first)
                        if dropped or length > most:
                            yield OverlongLine(length)
                        else:
                            held.append(first)
                            yield b"".join(held)
                        held, held_length, dropped = [], 0, False
                        del pieces[0]
                    if len(block) <= most:  # the common case: no line of it can be too long
                        yield from pieces
                    else:
                        for line in pieces:
                            yield OverlongLine(len(line)) if len(line) > most else line
                if last:
                    held_length += len(last)
                    if dropped:
                        pass
                    elif held_length > most:
                        held, dropped = [], True
                    else:
                        held.append(last)
            if not self.ready():
                yield None
            block = self.read()
            if not block:
                break
        if held_length:
            yield OverlongLine(held_length) if dropped else b"".join(held)


class StreamReader:
    """A reader of an :class:`InputStream`, with what a progress display shows of it: how
    far it has read (``position``) of how much (``size``: a regular file's, else None)."""

    def __init__(self, stream: IO[Any], block: int = BLOCK) -> None:
        self.input = InputStream(stream, block)

    @property
    def position(self) -> int:
        return self.input.position

    @property
    def size(self) -> int | None:
        return self.input.size
