"""The vocabulary every wing shares: ticket references, clean text, instants.

Imports nothing of cxdesk but `errors`; every other wing may import it."""
