"""The case loop: the commands that move a ticket (open, claim, reply, resolve, verify…),
their unit of work, the stages, assignment, follow-ups, templates, notifications, and the
events the webhook outbox is given (`ticket_events`).

May import access, clocks, audit and basics."""
