"""The API's request and response bodies, as the OpenAPI document describes them, one module
per kind of resource: :mod:`~api.schemas.commands` (events in, receipts out),
:mod:`~api.schemas.households` (one household's answers), :mod:`~api.schemas.reports` (a
division's), :mod:`~api.schemas.admin` (divisions, policies, tokens, health) and what they
share, :mod:`~api.schemas.common`.

Response models are what the handlers return: FastAPI validates every answer against them.
Moments (:data:`~api.schemas.common.Moment`) are written as the registry wrote them, offset and
microseconds kept; amounts (:data:`~api.schemas.common.Number`) keep an integer an integer.
"""
