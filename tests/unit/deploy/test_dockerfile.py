"""The Dockerfile, checked by reading it (no Docker engine here)."""

from __future__ import annotations

import json
import re
import shlex

from recaudo.deploy.envvars import unknown_env_vars
from recaudo.deploy.k8s import RUN_AS

from .files import ROOT

Instruction = tuple[str, str]


def _instructions() -> list[Instruction]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    lines = [
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_multi_stage_build_with_named_stages() -> None:
    stages = _stages()
    assert len(stages) >= 2
    names = [re.search(r"\bAS\s+(\S+)", s[0][1], re.IGNORECASE) for s in stages]
    assert all(names), "every stage is named (FROM ... AS name)"
    assert any("pip wheel" in args for kw, args in stages[0] if kw == "RUN")
    runtime = stages[-1]
    copies_from_builder = [a for kw, a in runtime if kw == "COPY" and a.startswith("--from=")]
    assert copies_from_builder, "the runtime stage takes the build's result, not the sources"
    assert "slim" in (ROOT / "Dockerfile").read_text().split("PYTHON_IMAGE=")[1].split()[0]


def test_runtime_runs_recaudo_as_a_non_root_user() -> None:
    runtime = _stages()[-1]
    users = [args for kw, args in runtime if kw == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # Kubernetes runs the pods as this uid (runAsNonRoot needs it numeric).
    assert user == str(RUN_AS)
    (entrypoint,) = [args for kw, args in runtime if kw == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["recaudo"]


def test_env_names_are_recaudo_settings_or_python_and_path() -> None:
    names = set()
    for kw, args in _instructions():
        if kw == "ENV":
            names |= {token.split("=", 1)[0] for token in shlex.split(args)}
    recaudo = {n for n in names if n.startswith("RECAUDO_")}
    assert recaudo and not unknown_env_vars(recaudo)


def test_everything_copied_is_in_the_build_context() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, ".dockerignore is an allow-list"
    for kw, args in _instructions():
        if kw != "COPY" or args.startswith("--from="):
            continue
        *sources, _dest = args.split()
        for source in sources:
            path = source.rstrip("/")
            assert (ROOT / path).exists(), source
            assert path in allowed, f"{source} is excluded by .dockerignore"
