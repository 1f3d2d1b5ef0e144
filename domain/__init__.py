"""The domain model: events, the bitemporal fold, rules and policy.

Pure Python: nothing in this package performs I/O or reads the clock. Everything
that depends on "now" takes it as an argument.
"""
