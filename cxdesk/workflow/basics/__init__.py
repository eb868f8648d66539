"""The vocabulary every wing shares: ticket references, clean text, instants, wide selects.

Imports nothing of cxdesk but `errors`; every other wing may import it."""
