"""What banks and CRMs import has one stable home: ``from recaudo import …``."""

from __future__ import annotations

import subprocess
import sys

import pytest

import recaudo
from recaudo import settings
from recaudo.contracts import records as events
from recaudo.kafka import producer


def test_the_public_names_are_the_defining_modules_objects() -> None:
    from recaudo import ChannelResponse, DebtEvent, DebtorProfile, RecaudoProducer, Settings

    assert DebtEvent is events.DebtEvent
    assert DebtorProfile is events.DebtorProfile
    assert ChannelResponse is events.ChannelResponse
    assert RecaudoProducer is producer.RecaudoProducer
    assert Settings is settings.Settings
    assert set(recaudo.__all__) >= {"DebtEvent", "RecaudoProducer", "Settings"}


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = recaudo.Nope


def test_importing_recaudo_does_not_load_kafka() -> None:
    # The public names load on first use: a command that only needs the
    # package's version does not pay for the Kafka client.
    code = "import sys, recaudo; print('confluent_kafka' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("recaudo.events", "recaudo.contracts.records", "DebtEvent"),
        ("recaudo.producer", "recaudo.kafka.producer", "RecaudoProducer"),
    ],
)
def test_the_old_paths_still_import_for_one_release_with_a_warning(
    old: str, new: str, name: str
) -> None:
    # In a fresh interpreter: the warning is given once, at the first import.
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        f"assert old.{name} is new.{name}\n"
        "print([str(w.message) for w in caught if w.category is DeprecationWarning])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"{old} is deprecated" in out.stdout, out.stdout + out.stderr
