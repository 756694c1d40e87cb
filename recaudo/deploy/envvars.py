"""Which environment variables recaudo reads, taken from the ``Settings`` model.

A manifest that sets a variable recaudo does not read fails silently in
production (a typo in ``RECAUDO_KAFKA_SASL_MECANISM`` just leaves the default),
so the deployment tests check every name against this list.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, get_origin

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from recaudo.settings import Settings


def field_env_vars(name: str, field: FieldInfo) -> tuple[str, ...]:
    """The variables that set one field, in the order pydantic-settings tries them."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(choice.upper() for choice in alias.choices if isinstance(choice, str))
    if isinstance(alias, str):
        return (alias.upper(),)
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return (f"{prefix}{name}".upper(),)


def env_vars_by_field() -> dict[str, tuple[str, ...]]:
    """Field name -> the variables that set it."""
    return {name: field_env_vars(name, field) for name, field in Settings.model_fields.items()}


def known_env_vars() -> frozenset[str]:
    """Every variable recaudo reads: ``RECAUDO_<FIELD>`` and the declared aliases."""
    return frozenset(var for names in env_vars_by_field().values() for var in names)


def unknown_env_vars(names: Iterable[str]) -> set[str]:
    """The names among ``names`` that no setting reads (settings ignore case)."""
    known = known_env_vars()
    return {name for name in names if name.upper() not in known}


class _MappingOnlySettings(Settings):
    """Settings that read their constructor's arguments and nothing else."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _decoded(field: str, value: str) -> Any:
    """``value`` as the environment source reads it: JSON for a dict or list field."""
    annotation = Settings.model_fields[field].annotation
    if get_origin(annotation) in (dict, list):
        return json.loads(value)
    return value


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Validate ``env`` as recaudo would read it, without touching ``os.environ``.

    Raises ``ValueError`` for a variable no setting reads, and pydantic's
    ``ValidationError`` for a value a setting rejects.
    """
    unknown = unknown_env_vars(env)
    if unknown:
        raise ValueError(f"not recaudo settings: {sorted(unknown)}")
    upper = {key.upper(): value for key, value in env.items()}
    values: dict[str, Any] = {}
    for field, names in env_vars_by_field().items():
        for name in names:
            if name in upper:
                values[field] = _decoded(field, upper[name])
                break
    # The process environment (a developer's, CI's) must not fill the gaps.
    return _MappingOnlySettings(**values)


_COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


def compose_interpolate(value: str) -> str:
    """``${VAR:-default}`` resolved as compose does with VAR unset."""
    return _COMPOSE_VARIABLE.sub(lambda m: m.group("default") or "", value)


def _is_recaudo_image(image: object) -> bool:
    return isinstance(image, str) and compose_interpolate(image).split(":")[0].endswith("recaudo")


def compose_recaudo_env(compose: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Service -> environment, for every compose service that runs the recaudo image."""
    result: dict[str, dict[str, str]] = {}
    for name, service in compose.get("services", {}).items():
        if not _is_recaudo_image(service.get("image")):
            continue
        env = service.get("environment") or {}
        if isinstance(env, list):  # the ["NAME=value", ...] form
            env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
        result[name] = {str(k): compose_interpolate(str(v)) for k, v in env.items()}
    return result


RECAUDO_POD_LABEL = ("app.kubernetes.io/name", "recaudo")


def k8s_recaudo_env(docs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str | None]]:
    """``<Deployment>/<container>`` -> environment, for every recaudo pod.

    Variables come from ``env`` and from the ConfigMaps and Secrets named in
    ``envFrom``; a value read from elsewhere (``valueFrom``) is ``None``.
    """
    docs = list(docs)
    sources: dict[tuple[str, str], dict[str, str]] = {}
    for doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if kind == "ConfigMap":
            sources[("configMapRef", name)] = dict(doc.get("data") or {})
        elif kind == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
            sources[("secretRef", name)] = {**data, **(doc.get("stringData") or {})}
    label, wanted = RECAUDO_POD_LABEL
    result: dict[str, dict[str, str | None]] = {}
    for doc in docs:
        if doc.get("kind") != "Deployment":
            continue
        template = doc["spec"]["template"]
        if template.get("metadata", {}).get("labels", {}).get(label) != wanted:
            continue
        for container in template["spec"]["containers"]:
            env: dict[str, str | None] = {}
            for source in container.get("envFrom", []):
                for ref_kind in ("configMapRef", "secretRef"):
                    if ref_kind in source:
                        ref = (ref_kind, source[ref_kind]["name"])
                        if ref not in sources:
                            raise ValueError(f"{doc['metadata']['name']}: no {ref[0]} {ref[1]!r}")
                        env.update(
                            {source.get("prefix", "") + k: v for k, v in sources[ref].items()}
                        )
            for var in container.get("env", []):
                env[var["name"]] = var.get("value")
            result[f"{doc['metadata']['name']}/{container['name']}"] = env
    return result
