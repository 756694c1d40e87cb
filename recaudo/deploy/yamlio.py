"""Deterministic multi-document YAML: the same input gives the same bytes.

Generated files are committed and compared byte for byte with a fresh
generation, so key order is the order the code builds (never sorted), lines
never wrap, no anchors are emitted, and lists are indented under their key as
kubectl users expect.

PyYAML is imported on first use: the main CLI imports this package to register
``recaudo deploy``, and no other command should pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any


@cache
def _dumper() -> type[Any]:
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            # PyYAML puts "- item" flush with the parent key by default.
            super().increase_indent(flow, False)

        def ignore_aliases(self, data: Any) -> bool:
            # A dict shared by two manifests is written out twice, not as &id001.
            return True

    return Dumper


def dump_documents(docs: Iterable[Mapping[str, Any]], header: str = "") -> str:
    """``docs`` as a ``---``-separated stream, after ``header`` as ``#`` comments."""
    import yaml

    body: str = yaml.dump_all(
        [dict(doc) for doc in docs],
        Dumper=_dumper(),
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + body


def load_documents(text: str) -> list[dict[str, Any]]:
    """Every non-empty document of a YAML stream (safe loader)."""
    import yaml

    return [doc for doc in yaml.safe_load_all(text) if doc is not None]
