"""`cxdesk serve`: feedback events received over HTTP, and tickets read back, for systems
that cannot run `cxdesk ingest`.

An entry point beside the TUI: it parses requests, asks the workflow layer (the same ingest,
permissions and reads as the command line) and answers in JSON; it never imports screens.

- `app`: the routes, and answers for what no route takes
- `desk`: what every request shares, and who calls (`Desk.caller`)
- `callers`: bearer tokens, kept as hashes in the config, and the agent each acts as
- `limits`: the body's size, read as it streams, and each token's rate
- `events`, `tickets`: the endpoints
- `answers`: JSON answers and errors, their text made inert
- `access_log`: one JSON line per request
- `server`: uvicorn, on the address the config or `--listen` names
"""
