"""Kafka: the relay (store → topic) and the subscribers (topic → read models, other systems).

- :mod:`consumers.relay` — ``povreg relay``: the notification log is the outbox; its producer and
  topics (:mod:`~consumers.producer`), its position and shards (:mod:`~consumers.tracking`), each
  page's messages (:mod:`~consumers.encoding`) with the findings and restatements the
  per-household folds give them (:mod:`~consumers.folds`, :mod:`~consumers.findings`,
  :mod:`~consumers.restatements`).
- :mod:`consumers.base` — the subscriber base: a few lines make a subscriber (a chunk is applied
  in one transaction by :mod:`~consumers.applying`).
- :mod:`consumers.projections` — ``povreg consume projections`` (the scaled mode).
- :mod:`consumers.dibao` — ``povreg consume dibao``: civil affairs' low-income roster sync,
  the example for other departments.
- :mod:`consumers.messages` — the message format, both ways; :mod:`persistence.db` their
  SQL connections; :mod:`~consumers.metrics` the /health and /metrics endpoint;
  :mod:`~consumers.clients` Kafka client chores.

docs/kafka.md describes how to run them, the messages, the guarantees and what we learned about the
test broker.
"""
