"""The event store on the eventsourcing library's extension points, the write gate, schema changes
and database access."""
