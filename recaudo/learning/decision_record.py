"""The learner's part of a logged :class:`~recaudo.contracts.records.ContactDecision`,
to and from the bandit's own types: a decision carries everything needed to
explain it, replay it from its model version and learn from its reward."""

from __future__ import annotations

from collections.abc import Sequence

from recaudo.contracts.records import (
    PPB,
    ContactDecision,
    LearningArm,
    LearningChoice,
    LearningFeature,
)
from recaudo.learning.actions import DEFAULT_WINDOWS, Action, AllowedAction, SendWindow
from recaudo.learning.bandit import Bandit, Choice
from recaudo.learning.features import Features, Value
from recaudo.orchestration.channel_choice import learning_key


class UnreadableChoice(ValueError):
    """A logged choice this recaudo cannot turn back into the bandit's types."""


def choice_record(arm: LearningArm, choice: Choice | None = None) -> LearningChoice:
    """The record of ``choice`` (None: the static strategy or the holdout chose)."""
    if choice is None:
        return LearningChoice(arm=arm)
    return LearningChoice(
        arm=arm,
        model_version=choice.model_version,
        probability_ppb=max(1, min(PPB, round(choice.probability * PPB))),
        window=choice.action.window.name,
        variant=choice.action.variant,
        actions=[a.label for a in choice.actions],
        chosen=choice.index,
        tried=list(choice.tried),
        features=[_feature(name, value) for name, value in choice.features.shared],
    )


def _feature(name: str, value: Value) -> LearningFeature:
    if isinstance(value, str):
        return LearningFeature(name=name, value=value)
    return LearningFeature(name=name, value=repr(float(value)), numeric=True)


def features_of(record: LearningChoice) -> Features:
    """The exact features the learner read (numbers round-trip through ``repr``)."""
    out: list[tuple[str, Value]] = []
    for f in record.features:
        if f.numeric:
            try:
                out.append((f.name, float(f.value)))
            except ValueError:
                raise UnreadableChoice(f"feature {f.name}: {f.value!r} is not a number") from None
        else:
            out.append((f.name, f.value))
    return Features(tuple(out))


def parse_action(label: str, windows: Sequence[SendWindow] = DEFAULT_WINDOWS) -> Action:
    """``channel@window/variant`` back into an action, the window by its name."""
    channel, sep, rest = label.partition("@")
    window_name, sep2, variant = rest.partition("/")
    by_name = {w.name: w for w in windows}
    if not (sep and sep2 and variant) or window_name not in by_name:
        raise UnreadableChoice(
            f"action {label!r} is not channel@window/variant with a window of "
            f"{sorted(by_name)}: configure the same send windows as the orchestrator's"
        )
    if channel not in ("sms", "email", "whatsapp", "voice"):
        raise UnreadableChoice(f"action {label!r}: unknown channel {channel!r}")
    return Action(channel, by_name[window_name], variant)  # type: ignore[arg-type]


def actions_of(
    record: LearningChoice, windows: Sequence[SendWindow] = DEFAULT_WINDOWS
) -> tuple[Action, ...]:
    return tuple(parse_action(label, windows) for label in record.actions)


def replay(decision: ContactDecision, bandit: Bandit) -> Choice | None:
    """The learner's choice for ``decision`` again, from the model it names
    (``bandit`` loaded from that version's bytes): the same action when the
    bytes are that version's. None for a decision the learner did not choose."""
    record = decision.learning
    if record is None or record.chosen is None:
        return None
    key = learning_key(
        decision.debtor_id,
        str(decision.trigger_event_id) if decision.trigger_event_id else None,
        decision.step,
    )
    # The send instant plays no part in the choice: any instant will do.
    allowed = [AllowedAction(a, decision.occurred_at) for a in actions_of(record)]
    return bandit.choose(key, features_of(record), allowed, tuple(record.tried))


def explain(decision: ContactDecision) -> str:
    """Why this decision: its outcome, the arm that chose, and for a learned
    choice the action, its probability, the model version and the context read."""
    head = (
        f"decision {decision.event_id}: {decision.outcome} "
        f"{decision.channel or '-'} (trigger {decision.trigger}, step {decision.step})"
    )
    lines = [head]
    if decision.rules_fired:
        lines.append("  rules: " + ", ".join(h.reason_code for h in decision.rules_fired))
    record = decision.learning
    if record is None:
        lines.append("  chosen by the static strategy (the learner was switched off)")
        return "\n".join(lines)
    if record.arm != "learner" or record.chosen is None:
        what = "held out: static strategy" if record.arm == "holdout" else "static strategy"
        lines.append(f"  arm {record.arm} ({what})")
        return "\n".join(lines)
    chosen = record.actions[record.chosen]
    lines.append(
        f"  arm learner: {chosen} with probability {record.probability:.3f} "
        f"among {len(record.actions)} allowed actions, model {record.model_version}"
    )
    lines.append("  context: " + " ".join(f"{f.name}={f.value}" for f in record.features))
    if record.tried:
        lines.append("  tried in this run: " + ", ".join(record.tried))
    return "\n".join(lines)
