"""``recaudo learn``: the learned contact choice at a terminal: why a
decision was made (``explain``), how a candidate model would have done on
the logged decisions before it is switched on (``evaluate``), and the
runtime switch (``switch off``). Decisions and
outcomes are read from their topics; model versions from Postgres
(``learner_model``). Registered on the main CLI with ``cli.add_command``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from recaudo.contracts.records import ContactDecision
from recaudo.learning.evaluate import Estimate, Evaluation, LoggedStep, evaluate_policy
from recaudo.settings import Settings


@click.group()
def learn() -> None:
    """The learned contact choice: explain a decision, evaluate a model, switch it
    off or on (docs/learning.md)."""


def _stored_model(settings: Settings, version: str | None) -> tuple[str, bytes]:
    """A model version's bytes from Postgres (the latest when ``version`` is None)."""
    import psycopg

    from recaudo.db.learner_model_store import latest_model, model_by_version

    if settings.database_url is None:
        raise click.ClickException(
            "model versions are kept in Postgres: set DATABASE_URL (or run `recaudo up`)"
        )
    try:
        with psycopg.connect(settings.database_dsn()) as conn:
            stored = latest_model(conn) if version is None else model_by_version(conn, version)
    except psycopg.errors.UndefinedTable:
        stored = None
    if stored is None:
        raise click.ClickException(
            f"no model version {version or '(none yet)'} in Postgres (learner_model): "
            "the learner service (`recaudo streams run --name learner`) writes them"
        )
    return stored.model_version, stored.model


@learn.command("explain")
@click.argument("decision_id")
@click.option(
    "--replay/--no-replay",
    default=True,
    show_default=True,
    help="Load the decision's model version from Postgres, show every allowed action's "
    "probability under it and check that the choice replays.",
)
def explain_command(decision_id: str, replay: bool) -> None:
    """Why DECISION_ID (a contact decision's event id, as `recaudo decisions --json`
    shows it) was made: the arm that chose, and for the learner the action, its
    probability, the model version and the context it read."""
    from recaudo.cli.inspect import _broker, _records
    from recaudo.learning.bandit import Bandit
    from recaudo.learning.configuration import learner_config
    from recaudo.learning.decision_record import explain
    from recaudo.learning.decision_record import replay as replay_choice

    settings, topics = _broker()
    found = next(
        (
            r
            for r in _records(settings, [topics.contact_decisions])
            if isinstance(r, ContactDecision) and str(r.event_id) == decision_id
        ),
        None,
    )
    if found is None:
        raise click.ClickException(
            f"no decision {decision_id} on {topics.contact_decisions}: "
            "`recaudo decisions --json` lists them with their ids"
        )
    click.echo(explain(found))
    record = found.learning
    if not replay or record is None or record.chosen is None or record.model_version is None:
        return
    _, model = _stored_model(settings, record.model_version)
    with Bandit(learner_config(settings), model) as bandit:
        again = replay_choice(found, bandit)
    if again is None:  # not a learner choice: checked above
        return
    click.echo(f"  under model {again.model_version}, every allowed action:")
    for p, action in sorted(zip(again.pmf, again.actions, strict=True), key=lambda x: -x[0]):
        click.echo(f"    {p:.3f} {action.label}")
    same = again.action.label == record.actions[record.chosen]
    click.echo(
        "  replayed: the same choice"
        if same
        else f"  replayed: {again.action.label}, not the logged choice (other learner settings?)"
    )


@learn.command("switch")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--reason", default=None, help="Why, kept with the switch record.")
def switch_command(state: str, reason: str | None) -> None:
    """Switch the learner off (every debtor gets the static strategy from its
    next decision) or back on, in every running orchestrator at once, without a
    restart. RECAUDO_LEARNER_ENABLED must be true for on to mean anything."""
    from datetime import UTC, datetime

    from recaudo.cli.inspect import _broker
    from recaudo.contracts.records import LearnerSwitch
    from recaudo.kafka.cloudevents import ce_headers
    from recaudo.kafka.producer import RecaudoProducer
    from recaudo.kafka.serde import Serde
    from recaudo.learning.model_topic import SWITCH_KEY

    settings, topics = _broker()
    record = LearnerSwitch(
        occurred_at=datetime.now(UTC),
        source="recaudo.cli.main",
        enabled=state == "on",
        reason=reason,
    )
    serde = Serde(settings)
    with RecaudoProducer(settings, serde) as producer:
        producer.produce_raw(
            topics.learner_switch,
            SWITCH_KEY,
            serde.serialize(topics.learner_switch, record),
            ce_headers(record),
        )
        producer.flush(30)
    click.echo(f"learner switched {state} ({topics.learner_switch})")


def _estimate_json(e: Estimate) -> dict[str, object]:
    return {"value": e.value, "ci95": list(e.ci95), "n": e.n}


def _line(name: str, e: Estimate) -> str:
    return f"{name:<28} {e.value:+.4f}  [{e.ci95[0]:+.4f}, {e.ci95[1]:+.4f}]"


@learn.command("evaluate")
@click.option(
    "--model",
    "version",
    default=None,
    help="The model version to evaluate (from Postgres). Default: the latest.",
)
@click.option(
    "--uniform",
    is_flag=True,
    help="Evaluate choosing uniformly among the allowed actions instead of a model.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def evaluate_command(version: str | None, uniform: bool, as_json: bool) -> None:
    """How a candidate policy would have done on the learner's logged decisions:
    mean reward per decision by inverse propensity scoring (IPS) and doubly
    robust (DR) estimation, each with its 95 % interval, beside the logging
    policy's own. Only decisions whose attribution window has closed count."""
    from recaudo.cli.inspect import _broker, _records
    from recaudo.learning.bandit import Bandit
    from recaudo.learning.configuration import learner_config, reward_config
    from recaudo.learning.evaluate import bandit_policy
    from recaudo.learning.online import logged_step, replay_log

    settings, topics = _broker()
    inputs = [topics.contact_decisions, topics.channel_responses, topics.debt_events]
    matured = replay_log(_records(settings, inputs), reward_config(settings))
    steps = [s for s in map(logged_step, matured) if s is not None]
    if not steps:
        raise click.ClickException(
            "no learner decision with a closed attribution window on the topics yet: "
            "switch the learner on (RECAUDO_LEARNER_ENABLED, RECAUDO_LEARNER_SHARE) and wait "
            "RECAUDO_LEARNER_ATTRIBUTION_DAYS after its first contacts"
        )
    if uniform:
        name = "uniform"
        result = evaluate_policy(steps, _uniform)
    else:
        name, model = _stored_model(settings, version)
        with Bandit(learner_config(settings), model) as bandit:
            result = evaluate_policy(steps, bandit_policy(bandit))
    _report(name, result, as_json)


def _uniform(step: LoggedStep) -> Sequence[float]:
    return [1.0 / len(step.actions)] * len(step.actions)


def _report(name: str, result: Evaluation, as_json: bool) -> None:
    if as_json:
        payload = {
            "candidate": name,
            "logged": _estimate_json(result.logged),
            "ips": _estimate_json(result.ips),
            "dr": _estimate_json(result.dr),
        }
        click.echo(json.dumps(payload))
        return
    click.echo(f"{result.logged.n} logged decisions; mean reward per decision [95 % interval]")
    click.echo(_line("logged policy", result.logged))
    click.echo(_line(f"candidate {name}, IPS", result.ips))
    click.echo(_line(f"candidate {name}, DR", result.dr))
