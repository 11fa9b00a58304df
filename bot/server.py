"""uvicorn glue for `signpost serve`: the HTTP protocol, one listening socket per worker, limits.

- TCP_NODELAY on every connection. A socket handed to a worker through multiprocessing
  reports protocol 0 instead of TCP, so asyncio skips TCP_NODELAY; responses go out as two
  segments and Nagle's algorithm then holds the body until the client's delayed ACK (about
  40 ms per request). The protocol sets it itself.
- A header read deadline. uvicorn times out idle keep-alive connections but not a client
  that opens a connection and sends its request line or headers slowly (or never): such
  connections were held for ever. Each request's headers must now arrive within
  SIGNPOST_HEADER_TIMEOUT of the connection opening, or of the request's first byte on a
  kept-alive connection; the body has its own deadline in the app (bot/middleware.py, 408).
- One SO_REUSEPORT listening socket per worker (Linux). With one shared socket the worker
  that happens to be waiting in accept() takes whole bursts of connections, and keep-alive
  clients then stay on it: in 3 of 6 trials all 64 connections of a benchmark landed on one
  of two workers. With a socket each, the kernel spreads new connections over the workers
  by a hash of the client's address and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
from functools import lru_cache

import uvicorn
from uvicorn.supervisors import Multiprocess

from . import metrics

try:  # uvicorn picks httptools when it is installed ("auto"); keep the same choice.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

log = logging.getLogger("signpost.server")


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@lru_cache(maxsize=1)
def _header_timeout() -> float:
    from .config import get_settings

    return get_settings().header_timeout


# Connections of this worker not in a request (idle, or still sending a request's headers),
# oldest first: the ones to close when the worker is full.
_waiting: dict[NoDelayHTTPProtocol, None] = {}


class NoDelayHTTPProtocol(_Base):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP/1.1 protocol with TCP_NODELAY, a header read deadline and, when the
    worker holds its maximum of connections, room made by closing the one that has waited
    longest without sending a request (so a flood of stalled connections cannot lock out a
    health probe or a person; with none waiting, uvicorn answers 503).

    The header deadline runs from the connection opening, or from the first byte of the next
    request on a kept-alive connection (until then uvicorn's keep-alive timeout applies), to
    the end of that request's headers."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
        cap = self.config.limit_concurrency
        if cap is not None and len(self.connections) >= cap and _waiting:
            oldest = next(iter(_waiting))
            oldest._stop_waiting()
            metrics.SLOW_CLIENTS.labels("evicted").inc()
            oldest.transport.abort()
        _waiting[self] = None
        self._start_header_deadline()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:
            self._stop_waiting()  # its headers are complete
        elif self._header_timer is None and self._between_requests():
            self._start_header_deadline()  # the next request has begun to arrive

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._between_requests() and not self.transport.is_closing():
            _waiting[self] = None  # idle: uvicorn's keep-alive timeout runs

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _start_header_deadline(self) -> None:
        self._header_timer = self.loop.call_later(_header_timeout(), self._headers_too_slow)

    def _stop_waiting(self) -> None:
        _waiting.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        _waiting.pop(self, None)
        if self.transport.is_closing():
            return
        # Nothing of this request reached the app, so there is nothing to answer: close.
        metrics.SLOW_CLIENTS.labels("headers").inc()
        self.transport.abort()


# -- one listening socket per worker --------------------------------------------------------


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bind_reuse_port(host: str, port: int, listen: bool = True) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class WorkerSocket:
    """Stands in for the listening socket that uvicorn's supervisor hands to every worker it
    starts (or restarts). Workers are started with `spawn`, so this is pickled; unpickling it,
    in the worker, opens that worker's own SO_REUSEPORT socket on the same address."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return (bind_reuse_port, (self.host, self.port))


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and os.uname().sysname == "Linux"


def run(config: uvicorn.Config) -> int:
    """Serve until stopped: one process, or a supervisor and `config.workers` workers with a
    listening socket each. Returns the exit code."""
    if config.workers <= 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else 3
    if not reuse_port_supported():  # elsewhere: uvicorn's one shared socket
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    # Hold the address in the supervisor (bound, not listening: it takes no connections) so
    # port 0 resolves once and another program cannot take the port between restarts.
    reserved = bind_reuse_port(config.host, config.port, listen=False)
    port = reserved.getsockname()[1]
    log.info("Uvicorn running on http://%s:%d, one listening socket per worker", config.host, port)
    try:
        Multiprocess(config, sockets=[WorkerSocket(config.host, port)]).run()  # type: ignore[list-item]
    finally:
        reserved.close()
    return 0


# -- process limits -------------------------------------------------------------------------


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft limit on open files to its hard limit (workers inherit it):
    1,024, common in containers, is reached by a thousand slow connections. Returns the
    (before, after) soft limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft >= target and soft != resource.RLIM_INFINITY:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target
