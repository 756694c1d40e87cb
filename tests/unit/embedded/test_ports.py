"""Ports chosen for servers started later must not be ones the kernel can give
to an outgoing connection in the meantime."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from recaudo.embedded.ports import (
    IANA_EPHEMERAL,
    LOWEST,
    candidate_ports,
    ephemeral_range,
    free_port,
    is_free,
)


def test_free_ports_are_outside_the_ephemeral_range_free_and_never_repeated() -> None:
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(100)]
    assert all(not low <= p <= high for p in ports), ports
    assert len(set(ports)) == len(ports)
    assert all(is_free(p) for p in ports)


def test_an_outgoing_connections_local_port_is_in_the_range_free_port_avoids() -> None:
    # What the choice rests on: the kernel gives connections local ports from
    # the ephemeral range, which `free_port` never draws from.
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
    ):
        local = client.getsockname()[1]
    assert local not in candidate_ports(ephemeral_range())


def test_a_listening_port_is_not_free() -> None:
    with socket.create_server(("127.0.0.1", free_port())) as server:
        assert not is_free(server.getsockname()[1])


@pytest.mark.parametrize(
    ("ephemeral", "expected"),
    [
        ((32768, 60999), range(LOWEST, 32768)),  # Linux's default
        ((49152, 65535), range(LOWEST, 49152)),  # IANA's, macOS and Windows
        ((1024, 50000), range(50001, 65536)),  # no room below: above
        ((1024, 65000), range(LOWEST, 65536)),  # no room either side
    ],
)
def test_candidates_sit_beside_the_ephemeral_range(
    ephemeral: tuple[int, int], expected: range
) -> None:
    assert candidate_ports(ephemeral) == expected


def test_the_range_is_read_from_the_kernel_and_assumed_when_unreadable(tmp_path: Path) -> None:
    source = tmp_path / "ip_local_port_range"
    source.write_text("40000\t50000\n")
    assert ephemeral_range(source) == (40000, 50000)
    source.write_text("garbage\n")
    assert ephemeral_range(source) == IANA_EPHEMERAL
    assert ephemeral_range(tmp_path / "missing") == IANA_EPHEMERAL
