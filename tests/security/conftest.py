"""The HTTP fixtures of the API suite (the real app over SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.api.conftest import api  # noqa: F401  (a fixture)
