"""Feedback coming in: readers, validation, the quarantine, alert rules and their dry run,
and the ingest pipeline that turns events into cases.

May import loop and the wings below it."""
