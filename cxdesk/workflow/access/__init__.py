"""Who may do what: identity from the operating system, the organisation (agents, teams,
queues), permissions and scope, and the masking of personal data.

May import audit and basics."""
