"""The command side: command handlers per family around a unit of work, idempotency, the bulk writer."""
