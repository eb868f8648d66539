"""Time as the desk counts it: working calendars and SLA planning (due times, risk, breach),
and why a clock is due when it is.

May import basics."""
