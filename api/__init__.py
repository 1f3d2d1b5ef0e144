"""The HTTP API (docs/api.md): FastAPI, problem+json errors, bearer tokens."""

from api.app import create_app

__all__ = ["create_app"]
