"""Running the app on uvicorn, at HOST:PORT.

uvicorn's own access log and logging setup are off: requests are logged by `AccessLog`, to
the log cxdesk's config names, and uvicorn's lines would quote raw paths.
"""

from __future__ import annotations

import contextlib
import gc
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from cxdesk.config import ServeConfig
from cxdesk.errors import ConfigError

# Bytes of a request's line and headers: past them, 400 (h11's own default, said here).
MAX_HEAD = 16 << 10
GRACE_SECONDS = 10  # on SIGTERM or ctrl+c, requests under way get this long to finish
# The collector's thresholds while serving: a young generation of 50,000 objects (Python's
# default is 700), the older ones as often as ever relative to it.
COLLECT_AFTER = (50_000, 20, 100)


def split_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:8080` or `[::1]:8080` → host and port."""
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen: {listen!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return host, int(port)


class StoppableServer(uvicorn.Server):
    """uvicorn's server, for which SIGTERM or ctrl+c is the end of a clean run (exit 0, as
    for `watch`): uvicorn raises the signal again once it has shut down, which killed the
    process by SIGTERM or ended it as an interrupted command. `listening` is called once
    it listens (not before: an address it cannot bind is told as an error alone), and
    `stopping` once it begins to shut down."""

    listening: Callable[[], None] | None = None
    stopping: Callable[[], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.listening is not None:
            self.listening()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.stopping is not None:
            self.stopping()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()  # the shutdown they asked for is done


def server(
    app: ASGIApp,
    listen: str,
    limits: ServeConfig,
    listening: Callable[[], None] | None = None,
    stopping: Callable[[], None] | None = None,
) -> uvicorn.Server:
    host, port = split_listen(listen)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        forwarded_allow_ips=limits.proxies,
        limit_concurrency=limits.max_connections,
        h11_max_incomplete_event_size=MAX_HEAD,
    )
    running = StoppableServer(config)
    running.listening, running.stopping = listening, stopping
    return running


def settle_collector() -> None:
    """Tune garbage collection for serving, once everything is loaded. A post of 1,000 events
    makes a few hundred thousand short-lived objects, nearly all freed by reference counting;
    at the default threshold the collector traverses them, and every module, the ORM's
    metadata and the compiled rules, hundreds of times a request. What exists now is frozen
    out of collections and the young generation made larger: the request path ran 16–26 %
    faster so. (Ingest pauses the collector outright (`collections_paused`), which a process
    serving many requests at once cannot do for one of them.)"""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECT_AFTER)
