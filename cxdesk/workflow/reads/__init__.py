"""What screens and commands read, scoped to the reader: ticket lists, views and filters
(`tickets`, `ticket_filter`, `search`, and how its words are found: `word_ways`), one ticket
(`detail`), one customer's tickets and feedback (`customers`), who is at the desk
(`viewer`), their new notifications (`notices`), reply templates (`templates`), the webhook
deliveries waiting or failed (`deliveries`).

The `read_*` functions (and `take_notices`) open a short session of their own: the screens
call them, from their workers, and never open one themselves. The others take a session, for
callers that read several things in one transaction.

May import loop, access, clocks, audit and basics. Writes nothing but the read marks of the
notifications it hands over."""
