"""The case loop: the commands that move a ticket (open, claim, reply, resolve, verify…),
their unit of work, the stages, assignment, follow-ups, templates and notifications.

May import access, clocks, audit and basics."""
