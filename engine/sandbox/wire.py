"""What crosses between the server and its sandbox processes: framed JSON messages, and the
values of task data encoded as JSON that the case store can keep.

Why JSON and not pickle: a sandbox process runs code written by whoever uploaded a diagram, so
what it sends back is untrusted; unpickling it would run that code in the server. JSON (with
datetimes and timedeltas tagged, as SpiffWorkflow's serializer stores them, and a UUID as its text)
only builds plain data.
The encoder is also the check that a script left only storable values behind: a set, a module, a
tuple key, an exception, NaN, infinity, a lone surrogate or an integer too long to print is named
by its variable instead of failing later when the case is saved.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time as clock
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, BinaryIO
from uuid import UUID

TAG = "__sf__"
MAX_DEPTH = 100  # nesting of lists and dicts in one value
MAX_INT_BITS = 14_000  # json.dumps refuses ints over 4,300 digits (about 14,284 bits)
MAX_FRAME = 256 * 2**20
_HEADER = struct.Struct(">I")


class Unstorable(ValueError):
    """A value that task data cannot hold; ``path`` names where it sits (``x['a'][2]``)."""

    def __init__(self, path: str, what: str) -> None:
        path = path if len(path) <= 80 else path[:79] + "…"
        super().__init__(f"{path} {what}")
        self.path = path
        self.what = what


class ChannelClosed(EOFError):
    """The other side closed the pipe or sent a frame that cannot be read."""


class ChannelTimeout(TimeoutError):
    """No complete frame arrived before the deadline."""


_HINTS = {set: " (use a list)", frozenset: " (use a list)", date: " (use its .isoformat() text)",
          time: " (use its .isoformat() text)", Decimal: " (use str() or float() of it)"}


def _describe(value: Any) -> str:
    if isinstance(value, float):
        return "holds NaN or infinity, which cannot be stored"
    return f"holds a value of type {type(value).__name__}, which cannot be stored{_HINTS.get(type(value), '')}"


def encode(value: Any, path: str, depth: int = 0) -> Any:
    """``value`` as plain JSON data, or Unstorable naming the first part that cannot be stored."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Unstorable(path, "holds text with a lone surrogate character, which cannot be stored") from None
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise Unstorable(path, "holds an integer with more than 4,200 digits, which cannot be stored")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable(path, _describe(value))
        return value
    if depth >= MAX_DEPTH and isinstance(value, list | tuple | dict):
        raise Unstorable(path.split("[", 1)[0], f"is nested deeper than {MAX_DEPTH} levels, which cannot be stored")
    if isinstance(value, list | tuple):
        return [encode(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Unstorable(path, f"has a key of type {type(key).__name__} ({key!r:.40}); keys must be text")
            out[encode(key, f"{path} key", depth)] = encode(item, f"{path}[{key!r}]", depth + 1)
        return {TAG: "dict", "v": out} if TAG in out else out
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {TAG: "timedelta", "d": value.days, "s": value.seconds, "us": value.microseconds}
    if isinstance(value, UUID):
        return str(value)  # stored as its text (engine.sandbox.modules says why)
    raise Unstorable(path, _describe(value))


def encode_variables(data: dict[str, Any]) -> dict[str, Any]:
    """Task data (variable name -> value) as plain JSON data; Unstorable names the variable."""
    return {name: encode(value, f"variable {name}", 1) for name, value in data.items()}


def decode(value: Any) -> Any:
    """The inverse of ``encode``."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag == "datetime":
        return datetime.fromisoformat(value["v"])
    if tag == "timedelta":
        return timedelta(days=value["d"], seconds=value["s"], microseconds=value["us"])
    if tag == "dict":
        value = value["v"]
    return {key: decode(item) for key, item in value.items()}


def printable(text: str, limit: int = 2000) -> str:
    """``text`` shortened and without lone surrogates, so a message can be stored anywhere."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def dumps(message: dict) -> bytes:
    """One frame: a length header and the message as UTF-8 JSON."""
    body = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("ascii")
    return _HEADER.pack(len(body)) + body


def write_frame(stream: BinaryIO, message: dict) -> None:
    stream.write(dumps(message))
    stream.flush()


def read_frame(stream: BinaryIO) -> dict:
    """The next frame from a blocking stream (the sandbox side reads its requests so)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise ChannelClosed("end of input")
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        raise ChannelClosed("truncated frame")
    return json.loads(body)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks, missing = [], size
    while missing:
        remaining = deadline - clock.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise ChannelTimeout("no answer in time")
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise ChannelClosed("the other side closed the pipe")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_frame_before(fd: int, deadline: float) -> dict:
    """The next frame from a pipe, waiting no longer than ``deadline`` (clock.monotonic()).
    Reading from a descriptor with select releases the GIL: other requests go on meanwhile."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > MAX_FRAME:
        raise ChannelClosed(f"a frame of {size:,} bytes is larger than {MAX_FRAME:,}")
    try:
        message = json.loads(_read_exactly(fd, size, deadline))
    except (ValueError, RecursionError) as exc:
        raise ChannelClosed(f"an unreadable frame ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise ChannelClosed("a frame that is not an object")
    return message
