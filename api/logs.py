"""What the server logs of a request: never its query string.

Queries can carry personal data (a search by name or ID number: ``?q=…``), and the
access log keeps what it is given. The filter drops the query string from every
access-log line of uvicorn; paths carry only codes and registry numbers.
"""

from __future__ import annotations

import logging


class NoQueryStrings(logging.Filter):
    """uvicorn's access record is (client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?…", args[3], args[4])
        return True


def install() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoQueryStrings) for f in access.filters):
        access.addFilter(NoQueryStrings())
