"""The one logging setup (waiaas_mcp/log.py): stderr, prefixed, the SDK's loggers too."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from waiaas_mcp.log import setup_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    setup_logging(stream=out)
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_session_lines_carry_the_session_prefix(stream: io.StringIO):
    logging.getLogger("waiaas_mcp.session").info("renewed")
    assert stream.getvalue() == "[waiaas-mcp:session] INFO renewed\n"


def test_our_lines_and_the_sdk_s_carry_the_server_prefix(stream: io.StringIO):
    logging.getLogger("waiaas_mcp.server").info("hello")
    logging.getLogger("mcp.server.lowlevel").warning("sdk says")
    assert stream.getvalue().splitlines() == [
        "[waiaas-mcp] INFO hello",
        "[waiaas-mcp] WARNING sdk says",
    ]
