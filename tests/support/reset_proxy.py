"""A TCP proxy in front of a real server that resets connections (RST, as a restarting or
failing-over Redis does: `ConnectionResetError`, errno 104) at a chosen stage:

- `connect`: as soon as it accepts one, before the client sends anything;
- `handshake`: after the client's first bytes (redis-py's `on_connect`: HELLO, CLIENT
  SETINFO, AUTH, SELECT), before any answer;
- `poll`: once the handshake is through, in the middle of a later command (the command
  forwarded, its answer not).

    async with ResetProxy(port) as proxy:       # forwards; proxy.url(db) is its address
        proxy.reset_at("handshake")             # every open connection reset, new ones too
        proxy.forward()                         # back to forwarding
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from types import TracebackType
from typing import Literal

Stage = Literal["connect", "handshake", "poll"]
# the commands of redis-py's handshake, which `poll` lets through
HANDSHAKE = (b"HELLO", b"AUTH", b"SELECT", b"SETINFO", b"SETNAME")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN: linger on, timeout zero."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class ResetProxy:
    """The proxy (see the module docstring); `resets` counts the connections it reset."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.stage: Stage | None = None
        self.resets = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def reset_at(self, stage: Stage) -> None:
        """From now on reset connections at `stage`; the open ones are reset at once."""
        self.stage = stage
        for writer in list(self._open):
            self._kill(writer)

    def forward(self) -> None:
        self.stage = None

    async def __aenter__(self) -> ResetProxy:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        await self._server.wait_closed()

    def _kill(self, writer: asyncio.StreamWriter) -> None:
        self.resets += 1
        self._open.discard(writer)
        _reset(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stage = self.stage
        if stage == "connect":
            self._kill(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            self._kill(writer)
            return
        self._open.add(writer)
        try:
            await asyncio.gather(self._client_to_server(reader, writer, up_writer),
                                 self._pipe(up_reader, writer), return_exceptions=True)
        finally:
            self._open.discard(writer)
            up_writer.transport.abort()
            writer.transport.abort()

    async def _client_to_server(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter,
                                up_writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            stage = self.stage
            handshake = any(command in data.upper() for command in HANDSHAKE)
            if stage == "handshake" or (stage == "poll" and not handshake):
                if stage == "poll":  # the command reaches the server; its answer does not
                    up_writer.write(data)
                self._kill(writer)
                return
            up_writer.write(data)
            await up_writer.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if writer.transport.is_closing():
                return
            writer.write(data)
            await writer.drain()
