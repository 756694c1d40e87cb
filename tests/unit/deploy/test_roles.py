"""The command lines compose and Kubernetes run are ones the CLI accepts."""

from __future__ import annotations

import click
import pytest

from recaudo.cli.main import cli
from recaudo.deploy.roles import HEALTH_PORT, ROLES, Role

#: Roles the manifests already describe whose command does not exist yet.
#: Listed, not skipped: when one lands this test says to remove it from here.
NOT_IMPLEMENTED: set[str] = set()


def _parses(role: Role) -> bool:
    command: click.Command = cli
    args = list(role.args)
    path = ["recaudo"]
    while isinstance(command, click.Group):
        name = args.pop(0)
        sub = command.get_command(click.Context(command), name)
        if sub is None:
            return False
        command, path = sub, [*path, name]
    command.make_context(" ".join(path), args)
    return True


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_role_command_line_parses(role: Role) -> None:
    if role.name in NOT_IMPLEMENTED:
        assert not _parses(role), f"{role.name} exists now: remove it from NOT_IMPLEMENTED"
    else:
        assert _parses(role)


def test_every_role_serves_on_the_health_port() -> None:
    for role in ROLES:
        assert str(HEALTH_PORT) in role.args, role.name
