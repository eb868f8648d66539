"""The demo databases, built by the same ingest and commands as real work.

May import every wing; nothing imports it but the CLI."""
