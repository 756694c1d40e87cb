"""The demo serves its dashboard on the configured port unless something
(a running `recaudo up`) already listens there."""

from __future__ import annotations

import socket

from recaudo.demo import _dashboard_port
from recaudo.embedded.ports import free_port, is_free


def test_the_configured_port_when_free_else_another_free_one() -> None:
    preferred = free_port()
    assert _dashboard_port(preferred) == preferred
    with socket.create_server(("127.0.0.1", preferred)):
        other = _dashboard_port(preferred)
        assert other != preferred
        assert is_free(other)
