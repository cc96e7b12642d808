"""Use cases: one short transaction per command, writing business rows, audit and outbox."""
