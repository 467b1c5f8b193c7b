"""The access log never holds a link's token: uvicorn's own record, through uvicorn's own
formatter, on the logger the server writes to (a real server's log is read in
tests/e2e/test_sign_in_http.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from backend.access_log import REDACTED, redact_access_log, redacted


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    logger = logging.getLogger("uvicorn.access")
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    level, filters = logger.level, list(logger.filters)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield written
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.filters[:] = filters


def _request(path: str) -> None:
    # As uvicorn's protocols log a request (uvicorn/protocols/http/h11_impl.py).
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.7:51234", "GET", path, "1.1", 200
    )


def test_tokens_in_query_strings_are_redacted_in_the_access_log(access_log: io.StringIO) -> None:
    redact_access_log()
    redact_access_log()  # installed once, however often the app is built
    assert (
        sum(
            type(f).__name__ == "RedactSecretQueryParameters"
            for f in logging.getLogger("uvicorn.access").filters
        )
        == 1
    )
    _request("/auth/link?token=s3cr3t-Link_token")
    _request("/reports/unsubscribe?lang=en&token=unsub.Tok3n&x=1")
    _request("/graphql?documentId=abc")
    lines = access_log.getvalue().splitlines()
    assert lines == [
        f'10.0.0.7:51234 - "GET /auth/link?token={REDACTED} HTTP/1.1" 200 OK',
        f'10.0.0.7:51234 - "GET /reports/unsubscribe?lang=en&token={REDACTED}&x=1 HTTP/1.1" 200 OK',
        '10.0.0.7:51234 - "GET /graphql?documentId=abc HTTP/1.1" 200 OK',
    ]


def test_only_the_secret_parameter_is_rewritten() -> None:
    assert redacted("/auth/link?token=a%2Fb") == f"/auth/link?token={REDACTED}"
    assert redacted("/auth/link?TOKEN=x#frag") == f"/auth/link?TOKEN={REDACTED}#frag"
    assert redacted("/x?mytoken=1&token_type=2") == "/x?mytoken=1&token_type=2"
    assert redacted("/auth/link") == "/auth/link"
