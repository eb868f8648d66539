"""What every request shares (`Desk`): the database, the settings, the known tokens and their
buckets, and who the request's token acts as."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

import anyio
from anyio import to_thread
from starlette.requests import Request

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound
from cxdesk.i18n import say
from cxdesk.web.answers import HttpError
from cxdesk.web.callers import Tokens
from cxdesk.web.limits import BodyBudget, TokenBuckets, too_often
from cxdesk.web.reply_limits import ReplyLimits
from cxdesk.workflow.access.permissions import SYSTEM_LOGIN, Actor, load_actor
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.request_pipeline import RequestPipeline

T = TypeVar("T")
# Requests ingesting at once: one writes while the next reads and validates its records; more
# would only wait for the write lock, each holding a thread.
INGEST_THREADS = 2
# Other database work at once (who calls, ticket reads, health): with the ingests, within
# the connections an engine's pool holds (5, and 10 more while busy).
READ_THREADS = 8
RETRY_AFTER_STOP_S = 10  # what a request refused while the server stops is told to wait


class Desk:
    """What the requests share. Its database is used from many threads at once: each unit
    of work takes a session of its own, and writes go through `Database.write`."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime],
        pipeline: RequestPipeline | None = None,
    ) -> None:
        """`pipeline` checks and writes posted events (checking them in a process of its
        own where it started one); without one, the request's thread does both. Either way
        every request's events go through runs of one `Ingestor`: the rules compiled once,
        and one batch written at a time."""
        self.db = db
        if pipeline is None:
            intake = Ingestor(db, settings, source="serve", clock=clock)
            pipeline = RequestPipeline(intake, in_processes=False)
        self.pipeline = pipeline
        self.settings = settings
        self.clock = clock
        self.limits = settings.serve
        self.tokens = Tokens(settings.serve.tokens)
        self.buckets = TokenBuckets(settings.serve.rate, settings.serve.burst)
        self.replies = ReplyLimits(settings.serve)
        self.bodies = BodyBudget(settings.serve.bodies_held())
        self.ingesting = anyio.CapacityLimiter(INGEST_THREADS)
        self.reading = anyio.CapacityLimiter(READ_THREADS)
        self.stopping = False  # the server has begun to stop: no write starts any more

    async def caller(self, request: Request) -> Actor:
        """The agent the request's token acts as: 401 without a known token, 429 over its
        rate, 403 when its login is no active agent. What they may do is the route's to ask."""
        login, key = self.tokens.login_of(request.headers.get("authorization"))
        request.state.login = login
        wait = self.buckets.take(key)
        if wait:
            raise too_often(
                say(
                    "over this token's rate of {rate} requests a second (serve.rate, "
                    "serve.burst); try again in {seconds} s",
                    rate=f"{self.buckets.rate:g}",
                    seconds=wait,
                ),
                wait,
            )
        return await self.work(self._actor, login)

    def _actor(self, login: str) -> Actor:
        """The token's agent; never the system, whose name a config may carry by mistake: a
        token acting as it would be an admin of every team that no agent row switches off."""
        try:
            if login != SYSTEM_LOGIN:
                with self.db.session() as session:
                    return load_actor(session, login, self.settings)
        except NotFound:
            pass
        raise HttpError(
            403,
            "inactive_agent",
            say("the token's agent {login} is not an active cxdesk agent", login=login),
            where="Authorization",
        )

    async def work(self, function: Callable[..., T], *args: object, ingest: bool = False) -> T:
        """`function(*args)` on a worker thread: the database is used synchronously. Work
        that writes (`ingest`) starts only while the server is not stopping."""
        if not ingest:
            return await to_thread.run_sync(function, *args, limiter=self.reading)
        guarded = partial(self._unless_stopping, function, *args)
        return await to_thread.run_sync(guarded, limiter=self.ingesting)

    def stop(self) -> None:
        """The server begins to stop: the writes under way finish, and the requests still
        waiting for their turn are answered 503 at once. Waiting on, they would be cut off
        with a bare 500 when the server's grace ran out, some of them written all the same."""
        self.stopping = True

    def _unless_stopping(self, function: Callable[..., T], *args: object) -> T:
        if self.stopping:
            raise HttpError(
                503,
                "stopping",
                say("the server is stopping; nothing of this request was stored, send it again"),
                headers={"Retry-After": str(RETRY_AFTER_STOP_S)},
            )
        return function(*args)


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk
