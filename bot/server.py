"""uvicorn glue for `signpost serve`.

With `--workers N`, uvicorn hands each worker the listening socket through multiprocessing;
the copy reports protocol 0 instead of TCP, so asyncio skips TCP_NODELAY on the connections
it accepts. Responses are written as two segments (headers, then body), and Nagle's algorithm
then holds the body back until the client's delayed ACK: about 40 ms on every request. This
protocol class switches Nagle off on each connection, as asyncio does with one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

try:  # uvicorn picks httptools when it is installed ("auto"); keep the same choice.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHTTPProtocol(_Base):  # type: ignore[misc, valid-type]
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
