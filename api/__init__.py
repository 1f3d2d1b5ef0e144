"""The HTTP API (../shared/API.md): FastAPI, problem+json errors, bearer tokens."""

from api.app import create_app

__all__ = ["create_app"]
