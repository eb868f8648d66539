"""Feedback coming in: readers, validation, the quarantine, alert rules and their dry run,
and the ingest pipeline that turns events into cases.

May import loop and the wings below it."""

from cxdesk.workflow.intake.rule_tables import install as _install_rule_tables

_install_rule_tables()  # before any of the modules below imports rule-engine
