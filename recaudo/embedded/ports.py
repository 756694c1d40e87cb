"""Free TCP ports for the servers `recaudo up` and the tests start on 127.0.0.1.

A port is chosen now and bound later by another process (the broker, a
worker's health server), so it must stay free in between. A port from the
kernel's ephemeral range does not: the kernel hands those out as the local
end of outgoing connections, and with a dozen processes connecting to Kafka
and Postgres one of them can take the port first and hold it for as long as
its connection lives. Ports are therefore drawn below that range, and never
twice by one process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Where Linux keeps its ephemeral range; elsewhere the IANA one is assumed.
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
IANA_EPHEMERAL = (49152, 65535)
#: Ports below this are left to well-known and registered services.
LOWEST = 20000
ATTEMPTS = 200

_handed_out: set[int] = set()


def ephemeral_range(source: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections."""
    try:
        low, high = (int(part) for part in source.read_text().split())
    except (OSError, ValueError):
        return IANA_EPHEMERAL
    return low, high


def candidate_ports(ephemeral: tuple[int, int]) -> range:
    """The ports to draw from: below the ephemeral range, or above it when
    the range starts too low to leave room underneath."""
    low, high = ephemeral
    if low - LOWEST >= 1000:
        return range(LOWEST, low)
    if 65535 - high >= 1000:
        return range(high + 1, 65536)
    return range(LOWEST, 65536)  # no room outside it: take the risk


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the ephemeral range, and not
    returned before by this process."""
    candidates = candidate_ports(ephemeral_range())
    for _ in range(ATTEMPTS):
        port = random.choice(candidates)
        if port not in _handed_out and is_free(port, host):
            _handed_out.add(port)
            return port
    raise OSError(
        f"no free port found in {candidates.start}-{candidates.stop - 1} on {host} "
        f"after {ATTEMPTS} tries: too many servers running, or the range is firewalled"
    )
