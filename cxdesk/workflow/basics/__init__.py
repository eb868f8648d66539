"""The vocabulary every wing shares: ticket references, clean text, instants, wide selects,
retry backoff (`backoff`), and the `Progress` long work reports to.

Imports nothing of cxdesk but `errors`; every other wing may import it."""
