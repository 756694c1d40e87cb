"""Avro binary encoders compiled from the record schemas, reading the models'
attributes directly.

Every output recaudo writes goes through one of these (snapshots, decisions,
dispatch commands, timers, derived events): a function generated once per
record from its schema writes the bytes fastavro would, from the model's
attributes, without ``model_dump`` and fastavro's generic walk of the schema
in between. ``tests/unit/test_avro_writer.py`` checks byte equality with
fastavro over every record type; what it buys is measured in
docs/performance.md ("Speed layers").

Supported: every type the catalogue uses: null, boolean, int, long, float,
double, string, bytes, enum, array, map, record, the logical types uuid, date
and timestamp-millis, and unions of ``null`` with one type or of records
(chosen by the model's ``avro_name``). Anything else raises
:class:`UnsupportedSchema` when the encoder is built, not when it runs.
"""

from __future__ import annotations

import keyword
import struct
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from recaudo.contracts.schemas import schema_json

#: Zigzag varints of 0..127 (what most counts, lengths and small numbers are).
_SMALL = [bytes([n]) for n in range(128)]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

Encoder = Callable[[Any], bytes]


class UnsupportedSchema(ValueError):
    """The schema uses an Avro feature these encoders do not write."""


def _varint(out: bytearray, z: int) -> None:
    """Append the already zigzagged ``z`` (>= 0) as a varint."""
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def _long(out: bytearray, n: int) -> None:
    _varint(out, (n << 1) ^ (n >> 63))


def _millis(value: datetime) -> int:
    """Milliseconds since the epoch, as fastavro computes them."""
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value.isoformat()} has no time zone: give it one (UTC)")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _zigzag_index(index: int) -> bytes:
    return _SMALL[index << 1]


class _Compiler:
    """Generates one ``w_<record>(v, out)`` function per named record."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}
        self.functions: dict[str, str] = {}  # record full name -> function name
        self.sources: list[str] = []
        self.constants: dict[str, Any] = {
            "_varint": _varint,
            "_long": _long,
            "_millis": _millis,
            "_pack_float": struct.Struct("<f").pack,
            "_pack_double": struct.Struct("<d").pack,
            "_EPOCH_DAY": _EPOCH_DAY,
        }
        #: constants holding union tables (they name their branch functions)
        self.unions: list[str] = []
        self._temp = 0

    def _fresh(self, prefix: str) -> str:
        self._temp += 1
        return f"{prefix}{self._temp}"

    def _constant(self, prefix: str, value: Any) -> str:
        name = self._fresh(f"_{prefix}")
        self.constants[name] = value
        return name

    @staticmethod
    def _full_name(name: str, namespace: str | None) -> str:
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def _resolve(self, schema: Any, namespace: str | None) -> Any:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            full = self._full_name(schema, namespace)
            if full not in self.named:
                raise UnsupportedSchema(f"unknown named type {schema!r}")
            return self.named[full]
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
            full = self._full_name(schema["name"], schema.get("namespace", namespace))
            self.named.setdefault(full, {**schema, "_full": full})
            return self.named[full]
        return schema

    def record(self, schema: dict[str, Any], namespace: str | None) -> str:
        schema = self._resolve(schema, namespace)
        full = schema["_full"]
        found = self.functions.get(full)
        if found is not None:
            return found
        name = self._fresh("w_" + full.rsplit(".", 1)[-1] + "_")
        self.functions[full] = name
        inner = full.rsplit(".", 1)[0] if "." in full else None
        lines = [f"def {name}(v, out):"]
        for field in schema["fields"]:
            var, attr = self._fresh("x"), field["name"]
            read = f"getattr(v, {attr!r})" if keyword.iskeyword(attr) else f"v.{attr}"
            lines.append(f"    {var} = {read}")
            self._emit(lines, var, field["type"], inner, "    ")
        if len(lines) == 1:
            lines.append("    pass")
        self.sources.append("\n".join(lines))
        return name

    def _emit(
        self, lines: list[str], var: str, schema: Any, namespace: str | None, ind: str
    ) -> None:
        schema = self._resolve(schema, namespace)
        if isinstance(schema, list):
            self._union(lines, var, schema, namespace, ind)
            return
        if isinstance(schema, str):
            kind, logical = schema, None
        else:
            kind, logical = schema["type"], schema.get("logicalType")
            if isinstance(kind, (dict, list)):
                self._emit(lines, var, kind, namespace, ind)
                return
        if logical == "timestamp-millis" and kind == "long":
            lines.append(f"{ind}{var} = _millis({var})")
        elif logical == "date" and kind == "int":
            lines.append(f"{ind}{var} = {var}.toordinal() - _EPOCH_DAY")
        elif logical == "uuid" and kind == "string":
            lines.append(f"{ind}{var} = str({var})")
        elif logical is not None:
            raise UnsupportedSchema(f"logical type {logical!r} on {kind!r}")
        if kind == "null":
            return
        if kind == "boolean":
            lines.append(f"{ind}out.append(1 if {var} else 0)")
        elif kind in ("int", "long"):
            z = self._fresh("z")
            lines.append(f"{ind}{z} = ({var} << 1) ^ ({var} >> 63)")
            lines.append(f"{ind}if {z} < 128:")
            lines.append(f"{ind}    out.append({z})")
            lines.append(f"{ind}else:")
            lines.append(f"{ind}    _varint(out, {z})")
        elif kind == "float":
            lines.append(f"{ind}out += _pack_float({var})")
        elif kind == "double":
            lines.append(f"{ind}out += _pack_double({var})")
        elif kind in ("string", "bytes"):
            raw = self._fresh("b")
            expr = f"{var}.encode()" if kind == "string" else var
            lines.append(f"{ind}{raw} = {expr}")
            lines.append(f"{ind}if len({raw}) < 64:")
            lines.append(f"{ind}    out.append(len({raw}) << 1)")
            lines.append(f"{ind}else:")
            lines.append(f"{ind}    _varint(out, len({raw}) << 1)")
            lines.append(f"{ind}out += {raw}")
        elif kind == "enum":
            if len(schema["symbols"]) > 64:
                raise UnsupportedSchema(f"enum {schema['name']} has more than 64 symbols")
            table = self._constant(
                "enum", {s: _zigzag_index(i) for i, s in enumerate(schema["symbols"])}
            )
            lines.append(f"{ind}out += {table}[{var}]")
        elif kind == "record":
            fn = self.record(schema, namespace)
            lines.append(f"{ind}{fn}({var}, out)")
        elif kind in ("array", "map"):
            item = self._fresh("i")
            lines.append(f"{ind}if {var}:")
            lines.append(f"{ind}    _long(out, len({var}))")
            if kind == "array":
                lines.append(f"{ind}    for {item} in {var}:")
                self._emit(lines, item, schema["items"], namespace, ind + "        ")
            else:
                key = self._fresh("k")
                lines.append(f"{ind}    for {key}, {item} in {var}.items():")
                self._emit(lines, key, "string", namespace, ind + "        ")
                self._emit(lines, item, schema["values"], namespace, ind + "        ")
            lines.append(f"{ind}out.append(0)")
        else:
            raise UnsupportedSchema(f"type {kind!r}")

    def _union(
        self, lines: list[str], var: str, branches: list[Any], namespace: str | None, ind: str
    ) -> None:
        resolved = [self._resolve(b, namespace) for b in branches]
        null = next((i for i, b in enumerate(resolved) if b == "null"), None)
        others = [(i, b) for i, b in enumerate(resolved) if b != "null"]
        if null is not None:
            lines.append(f"{ind}if {var} is None:")
            lines.append(f"{ind}    out.append({null << 1})")
            lines.append(f"{ind}else:")
            ind += "    "
        if len(others) == 1:
            index, branch = others[0]
            lines.append(f"{ind}out.append({index << 1})")
            self._emit(lines, var, branch, namespace, ind)
            return
        if not all(isinstance(b, dict) and b.get("type") == "record" for _, b in others):
            raise UnsupportedSchema(f"union {branches!r}: only null with one type, or records")
        # Records by the model's avro_name (its record's short name).
        table = self._constant(
            "union",
            {
                b["_full"].rsplit(".", 1)[-1]: (_zigzag_index(i), self.record(b, namespace))
                for i, b in others
            },
        )
        self.unions.append(table)
        tag, fn = self._fresh("u"), self._fresh("f")
        lines.append(f"{ind}{tag}, {fn} = {table}[{var}.avro_name]")
        lines.append(f"{ind}out += {tag}")
        lines.append(f"{ind}{fn}({var}, out)")


def compile_encoder(schema: dict[str, Any], header: bytes = b"") -> Encoder:
    """A function from a model of the record ``schema`` (parsed JSON) to
    ``header`` followed by the record's Avro binary encoding."""
    compiler = _Compiler()
    top = compiler.record(schema, schema.get("namespace"))
    namespace: dict[str, Any] = dict(compiler.constants)
    exec("\n\n".join(compiler.sources), namespace)
    # Union tables name their branch functions: bind the functions now defined.
    for name in compiler.unions:
        namespace[name] = {k: (i, namespace[fn]) for k, (i, fn) in namespace[name].items()}
    write = namespace[top]

    def encode(model: Any) -> bytes:
        out = bytearray(header)
        write(model, out)
        return bytes(out)

    return encode


@cache
def encoder_for(record: str, header: bytes = b"") -> Encoder:
    """The compiled encoder of a catalogue record (``schemas/``), by name."""
    return compile_encoder(schema_json(record), header)
