"""The access log never keeps a query string: a search by name or ID number stays out of it."""

from __future__ import annotations

import logging

from api.logs import NoQueryStrings, install


def test_the_access_log_drops_query_strings() -> None:
    install()
    assert any(isinstance(f, NoQueryStrings) for f in logging.getLogger("uvicorn.access").filters)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/v1/households?q=%E5%BC%A0%E4%B8%89", "1.1", 200), None)
    assert NoQueryStrings().filter(record)
    line = record.getMessage()
    assert "q=" not in line and "%E5" not in line and "/v1/households?…" in line
