"""Real-time delivery: outbox events → broadcast backends → per-connection send queues."""
