"""Time as the desk counts it: working calendars and SLA planning (due times, risk, breach).

May import basics."""
