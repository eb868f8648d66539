"""What screens and commands read: ticket lists, views and filters, scoped to the reader.

May import loop, access, clocks, audit and basics; writes nothing."""
