"""A small client of the Pulse native protocol: who records from which source, and when.

PulseAudio speaks it on ``$XDG_RUNTIME_DIR/pulse/native``, and so does
PipeWire's pipewire-pulse, so one client serves both. The agent needs four
requests and one event: ``AUTH`` and ``SET_CLIENT_NAME`` to be let in,
``SUBSCRIBE`` to source and source-output changes (``SUBSCRIBE_EVENT``), then
``GET_SOURCE_OUTPUT_INFO_LIST`` and ``GET_SOURCE_INFO`` to count the recording
streams on real sources. No stream is opened and no audio ever crosses.

Why not pulsectl (the well-kept libpulse binding) or libpulse itself:
measured in the running headless agent, pulsectl with libpulse added 3.0 to
4.6 MB of peak resident memory (46.2 MB with the pynput fallback, over the
45 MB budget), and libpulse alone, with the codec and D-Bus libraries it
links, 3.3 MB; this module adds 0.2 to 0.6 MB.

The wire format (``pulsecore/pstream.c``, ``tagstruct.c``): each packet is a
20-byte descriptor (length, channel, two offset words, flags; big-endian) and
a *tagstruct*, a sequence of values each led by a type tag, so a reply can be
walked without knowing every field. Access is by the server's own rule for a
local socket: the peer's credentials (``SCM_CREDENTIALS``) of the same user,
or the cookie in ``~/.config/pulse/cookie``.

Thread use: one :class:`PulseClient` per thread (the call watcher's).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

# pulsecore/native-common.h
_ERROR, _REPLY, _AUTH, _SET_CLIENT_NAME = 0, 2, 8, 9
_GET_SOURCE_INFO, _GET_SOURCE_OUTPUT_INFO_LIST, _SUBSCRIBE = 23, 32, 35
_SUBSCRIBE_EVENT = 66
_VERSION = 32  # PulseAudio 11+; pipewire-pulse answers as 35
_COMMAND_CHANNEL = 0xFFFFFFFF
_MASK_SOURCE, _MASK_SOURCE_OUTPUT = 0x0002, 0x0008
INVALID_INDEX = 0xFFFFFFFF
#: The longest packet we take (a list of a few streams is a few kilobytes).
_MAX_PACKET = 1 << 20
_TIMEOUT = 5.0


class PulseUnavailable(Exception):
    """No sound server answers here, or it went away. One line."""


@dataclass(frozen=True)
class Source:
    index: int
    monitor_of_sink: int


@dataclass(frozen=True)
class SourceOutput:
    source: int
    name: str
    proplist: dict[str, str]


# -- tagstructs -----------------------------------------------------------------------------


def _put_u32(value: int) -> bytes:
    return b"L" + struct.pack(">I", value)


def _put_string(value: str | None) -> bytes:
    return b"N" if value is None else b"t" + value.encode() + b"\0"


def _put_proplist(props: Mapping[str, str]) -> bytes:
    out = b"P"
    for key, value in props.items():
        data = value.encode() + b"\0"
        out += _put_string(key) + _put_u32(len(data)) + b"x" + struct.pack(">I", len(data)) + data
    return out + b"N"


class _Reader:
    """Walks a tagstruct, value by value. Raises ``ValueError`` on anything malformed."""

    _FIXED: ClassVar[dict[bytes, int]] = {
        b"L": 4,
        b"V": 4,
        b"B": 1,
        b"R": 8,
        b"r": 8,
        b"U": 8,
        b"T": 8,
        b"1": 0,
        b"0": 0,
    }

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def done(self) -> bool:
        return self._pos >= len(self._data)

    def _take(self, size: int) -> bytes:
        if size < 0 or self._pos + size > len(self._data):
            raise ValueError("tagstruct ends early")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def value(self) -> tuple[bytes, Any]:
        """``(tag, value)`` of the next value; proplists as dicts, the rest as Python values."""
        tag = self._take(1)
        if tag in self._FIXED:
            raw = self._take(self._FIXED[tag])
            if tag in (b"L", b"V"):
                return tag, struct.unpack(">I", raw)[0]
            if tag == b"B":
                return tag, raw[0]
            if tag in (b"1", b"0"):
                return tag, tag == b"1"
            return tag, raw
        if tag == b"t":
            end = self._data.find(b"\0", self._pos)
            if end < 0:
                raise ValueError("unterminated string")
            text = self._data[self._pos : end].decode(errors="replace")
            self._pos = end + 1
            return tag, text
        if tag == b"N":
            return tag, None
        if tag == b"x":
            (size,) = struct.unpack(">I", self._take(4))
            return tag, self._take(size)
        if tag == b"a":
            self._take(6)  # format, channels, rate
            return tag, None
        if tag == b"m":
            self._take(self._take(1)[0])
            return tag, None
        if tag == b"v":
            self._take(4 * self._take(1)[0])
            return tag, None
        if tag == b"P":
            return tag, self._proplist()
        if tag == b"f":
            self.value()  # encoding (u8)
            self.value()  # its proplist
            return tag, None
        raise ValueError(f"unknown tag {tag!r}")

    def _proplist(self) -> dict[str, str]:
        props: dict[str, str] = {}
        while True:
            tag, key = self.value()
            if tag == b"N":
                return props
            _size_tag, _size = self.value()
            _data_tag, data = self.value()
            if isinstance(key, str) and isinstance(data, bytes):
                props[key] = data.rstrip(b"\0").decode(errors="replace")

    def u32(self) -> int:
        tag, value = self.value()
        if tag != b"L":
            raise ValueError(f"expected a u32, got {tag!r}")
        return int(value)


# -- the client -------------------------------------------------------------------------------


def socket_path(environ: Mapping[str, str]) -> str:
    """Where the Pulse server listens: ``$PULSE_SERVER`` (a local one), else the runtime dir's."""
    for entry in environ.get("PULSE_SERVER", "").split():
        if entry.startswith("unix:"):
            return entry.removeprefix("unix:")
        if entry.startswith("/"):
            return entry
    runtime = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return str(Path(runtime) / "pulse" / "native")


def _cookie(environ: Mapping[str, str]) -> bytes:
    home = Path(environ.get("HOME", "~")).expanduser()
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    for path in (environ.get("PULSE_COOKIE"), config / "pulse" / "cookie", home / ".pulse-cookie"):
        if path:
            with contextlib.suppress(OSError):
                data = Path(path).read_bytes()
                if len(data) == 256:
                    return data
    return bytes(256)  # the same user is let in by its credentials anyway


class PulseClient:
    """One connection to the Pulse server; see the module docstring."""

    def __init__(self, environ: Mapping[str, str], name: str = "presence-agent") -> None:
        self._environ = environ
        self._name = name
        self._sock: socket.socket | None = None
        self._tag = 0
        self._buffer = b""
        self._events = 0
        self.path = socket_path(environ)

    def connect(self) -> str:
        """Connect and subscribe; the server's socket path. Raises PulseUnavailable."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(_TIMEOUT)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise PulseUnavailable(f"no sound server at {self.path} ({exc.strerror})") from None
        self._sock = sock
        creds = struct.pack("=iII", os.getpid(), os.getuid(), os.getgid())
        cookie = _cookie(self._environ)
        auth = _put_u32(_VERSION) + b"x" + struct.pack(">I", len(cookie)) + cookie
        self._request(_AUTH, auth, ancillary=[(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
        self._request(_SET_CLIENT_NAME, _put_proplist({"application.name": self._name}))
        self._request(_SUBSCRIBE, _put_u32(_MASK_SOURCE | _MASK_SOURCE_OUTPUT))
        return self.path

    def source_outputs(self) -> list[SourceOutput]:
        reply = self._request(_GET_SOURCE_OUTPUT_INFO_LIST, b"")
        outputs = []
        while not reply.done():
            # index, name, owner module, client, source, ... up to the format info that
            # ends each entry (protocol 22 and later).
            reply.u32()
            _tag, name = reply.value()
            reply.u32()
            reply.u32()
            source = reply.u32()
            props: dict[str, str] = {}
            while True:
                tag, value = reply.value()
                if tag == b"P" and isinstance(value, dict):
                    props = value
                if tag == b"f":
                    break
            outputs.append(SourceOutput(source, name or "", props))
        return outputs

    def sources(self, indices: set[int]) -> list[Source]:
        """The sources with these indices (one request each; one that just went is skipped)."""
        found = []
        for index in sorted(indices):
            try:
                reply = self._request(_GET_SOURCE_INFO, _put_u32(index) + _put_string(None))
            except PulseUnavailable:
                continue  # it went away meanwhile
            values = [reply.value()[1] for _ in range(9)]
            found.append(Source(int(values[0]), int(values[8])))
        return found

    def wait(self, wake_fd: int) -> bool:
        """Sleep until a source or source output changes (``True``) or ``wake_fd`` is readable.

        Raises :class:`PulseUnavailable` when the server goes away.
        """
        sock = self._sock
        assert sock is not None
        while True:
            if self._events:
                self._events = 0
                return True
            ready, _, _ = select.select([sock.fileno(), wake_fd], [], [])
            if wake_fd in ready:
                return False
            self._read_some()
            try:
                while (packet := self._packet()) is not None:
                    self._dispatch(packet, expect=None)
            except ValueError as exc:
                raise PulseUnavailable(f"the sound server sent garbage ({exc})") from None

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    # -- the wire ----------------------------------------------------------------------

    def _request(
        self, command: int, body: bytes, ancillary: list[tuple[int, int, bytes]] | None = None
    ) -> _Reader:
        sock = self._sock
        if sock is None:
            raise PulseUnavailable("not connected")
        self._tag += 1
        tag = self._tag
        payload = _put_u32(command) + _put_u32(tag) + body
        descriptor = struct.pack(">IIIII", len(payload), _COMMAND_CHANNEL, 0, 0, 0)
        try:
            sock.sendmsg([descriptor + payload], ancillary or [])
            while True:
                packet = self._packet()
                if packet is None:
                    self._read_some()
                    continue
                reply = self._dispatch(packet, expect=tag)
                if reply is not None:
                    return reply
        except (OSError, ValueError) as exc:
            raise PulseUnavailable(f"the sound server went away ({exc})") from None

    def _read_some(self) -> None:
        assert self._sock is not None
        try:
            chunk = self._sock.recv(65536)
        except OSError as exc:
            raise PulseUnavailable(f"the sound server went away ({exc.strerror})") from None
        if not chunk:
            raise PulseUnavailable("the sound server closed the connection")
        self._buffer += chunk

    def _packet(self) -> bytes | None:
        if len(self._buffer) < 20:
            return None
        length, channel, _hi, _lo, _flags = struct.unpack(">IIIII", self._buffer[:20])
        if length > _MAX_PACKET:
            raise PulseUnavailable("the sound server sent an oversized packet")
        if len(self._buffer) < 20 + length:
            return None
        packet, self._buffer = self._buffer[20 : 20 + length], self._buffer[20 + length :]
        return packet if channel == _COMMAND_CHANNEL else b""  # audio: never asked for

    def _dispatch(self, packet: bytes, expect: int | None) -> _Reader | None:
        if not packet:
            return None
        reader = _Reader(packet)
        command, tag = reader.u32(), reader.u32()
        if command == _SUBSCRIBE_EVENT:
            self._events += 1
            return None
        if expect is None or tag != expect:
            return None
        if command == _ERROR:
            code = reader.u32() if not reader.done() else -1
            raise PulseUnavailable(f"the sound server refused a request (error {code})")
        if command != _REPLY:
            raise PulseUnavailable(f"unexpected answer {command} from the sound server")
        return reader
