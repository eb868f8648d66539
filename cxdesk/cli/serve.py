"""`cxdesk serve`: feedback events received over HTTP, tickets read back; `serve token`."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.output import say


@click.group(invoke_without_command=True)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Where to listen [default: the config's serve.listen, 127.0.0.1:8080].",
)
@pass_context
def serve(context: Context, listen: str | None) -> None:
    """Take feedback events over HTTP (POST /v1/events), as `cxdesk ingest` takes a file.

    Callers send a bearer token that `cxdesk serve token LOGIN` mints; ctrl+c or SIGTERM stop
    the server once the requests under way are answered.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from cxdesk import logs
    from cxdesk.web.app import build_app
    from cxdesk.web.server import server, settle_collector, split_listen
    from cxdesk.workflow.intake.ingest import Ingestor
    from cxdesk.workflow.intake.request_pipeline import RequestPipeline

    settings = context.settings
    context.viewer().require_admin("run the server")
    address = listen or settings.serve.listen
    split_listen(address)  # refused before anything is forked
    db = context.database()
    # Forked first, before anything starts a thread of its own.
    intake = Ingestor(db, settings, source="serve", clock=context.now)
    pipeline = RequestPipeline(intake, in_processes=True)
    try:  # from the fork on: its processes end however the server does
        app = build_app(db, settings, context.now, pipeline)
        running = server(
            app,
            address,
            settings.serve,
            listening=lambda: say(f"cxdesk serve: listening on {address} (ctrl+c stops)", err=True),
            stopping=app.state.desk.stop,
        )
        logs.follow_requests(settings.log)
        if not settings.serve.tokens:
            say(
                "cxdesk: warning: no [[serve.tokens]] in the config: every request but "
                "GET /healthz is refused (`cxdesk serve token LOGIN` mints one)",
                err=True,
            )
        settle_collector()
        with db.bulk_writes():
            running.run()
    finally:
        pipeline.close()
    say("cxdesk serve: stopped", err=True)


@serve.command("token")
@click.argument("login")
@pass_context
def serve_token(context: Context, login: str) -> None:
    """Mint a token acting as the agent LOGIN; print it once, and the config lines to add.

    Only the token's SHA-256 goes in the config: keep the token itself with its caller. To
    revoke it, remove its lines from the config and restart the server.
    """
    from cxdesk.web.callers import mint_token
    from cxdesk.workflow.access.org import get_agent

    context.viewer().require_admin("mint server tokens")
    with context.database().session() as session:
        agent = get_agent(session, login)
    token, digest = mint_token()
    say(f"token for {agent.login} ({agent.role}), shown this once:")
    say(token)
    say("add to the config, then restart cxdesk serve:")
    say("[[serve.tokens]]")
    say(f'login = "{agent.login}"')
    say(f'sha256 = "{digest}"')
