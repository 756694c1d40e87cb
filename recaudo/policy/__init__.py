"""The contact-policy engine: pure functions of a debtor's context, a
candidate contact, an injected ``now`` and a rule set.

    from recaudo.policy import Candidate, PolicyContext, evaluate, preset

    decision = evaluate(ctx, candidate, now, preset("co_ley_2300"))

No Kafka, no I/O, no clock. docs/policy.md describes every preset, rule id,
reason code and the TOML format of custom rule sets.
"""

from recaudo.policy.caps import Cap, Cooldown
from recaudo.policy.config import PolicyConfigError, load_registry, load_rules, rules_from_mapping
from recaudo.policy.engine import evaluate
from recaudo.policy.model import (
    CHANNELS,
    KINDS,
    Candidate,
    Channel,
    Contact,
    DebtState,
    DebtStatus,
    Decision,
    Flag,
    Kind,
    Outcome,
    PolicyContext,
    ReasonCode,
    RuleHit,
    kind_of,
)
from recaudo.policy.presets import PRESETS, preset, rules_for
from recaudo.policy.quiet_hours import WeeklyHours, Window
from recaudo.policy.ruleset import RuleSet, trim_history
from recaudo.policy.suppression import SuppressionRules, VulnerablePolicy

__all__ = [
    "CHANNELS",
    "KINDS",
    "PRESETS",
    "Candidate",
    "Cap",
    "Channel",
    "Contact",
    "Cooldown",
    "DebtState",
    "DebtStatus",
    "Decision",
    "Flag",
    "Kind",
    "Outcome",
    "PolicyConfigError",
    "PolicyContext",
    "ReasonCode",
    "RuleHit",
    "RuleSet",
    "SuppressionRules",
    "VulnerablePolicy",
    "WeeklyHours",
    "Window",
    "evaluate",
    "kind_of",
    "load_registry",
    "load_rules",
    "preset",
    "rules_for",
    "rules_from_mapping",
    "trim_history",
]
