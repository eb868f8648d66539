"""The audit trail: the keyed hash chain every write appends to, and its verification.

May import basics, models and db; imported by every wing that writes."""
