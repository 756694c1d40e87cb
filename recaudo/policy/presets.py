"""Jurisdiction presets: one named rule set per law, documented with its legal
basis and the assumptions made in docs/policy.md.

Where a statute is ambiguous the preset takes the reading that contacts less
(rolling windows rather than calendar weeks, the whole debtor rather than one
debt, statute hours applied to messages too); a custom rule set can relax it
knowingly (:mod:`recaudo.policy.config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Final

from recaudo.policy.caps import Cap, Cooldown
from recaudo.policy.model import ALL_CHANNELS, PolicyContext
from recaudo.policy.quiet_hours import WeeklyHours
from recaudo.policy.ruleset import RuleSet
from recaudo.policy.suppression import SuppressionRules, VulnerablePolicy

DAY: Final = timedelta(days=1)
WEEK: Final = timedelta(days=7)

# Not from any statute: a conservative house default for debtors flagged
# vulnerable (written channels only, at most one contact a week). Review it.
VULNERABLE_DEFAULT: Final = VulnerablePolicy(
    mode="restrict",
    channels=frozenset({"email", "sms", "whatsapp"}),
    caps=(Cap("vulnerable.debtor_contacts_7d", 1, WEEK),),
)
# WhatsApp Business policy (Meta), not law: business-initiated messages need
# the person's opt-in.
_SUPPRESSION: Final = SuppressionRules(
    consent_required=frozenset({"whatsapp"}), vulnerable=VULNERABLE_DEFAULT
)

US_REG_F: Final = RuleSet(
    id="us_reg_f",
    description=(
        "United States, FDCPA and Regulation F (12 CFR 1006): communications only "
        "08:00-21:00 in the consumer's local time (FDCPA 805(a)(1), 1006.6(b)(1)(i)); "
        "at most 7 calls in 7 days per debt and no call within 7 days after a telephone "
        "conversation about that debt (1006.14(b)(2)); opt-out notice in every "
        "electronic communication (1006.6(e))."
    ),
    call_hours=WeeklyHours.build(
        weekdays=["08:00-21:00"], saturday=["08:00-21:00"], sunday=["08:00-21:00"]
    ),
    message_hours=WeeklyHours.build(
        weekdays=["08:00-21:00"], saturday=["08:00-21:00"], sunday=["08:00-21:00"]
    ),
    caps=(Cap("caps.per_debt_calls_7d", 7, WEEK, scope="debt", kinds=frozenset({"call"})),),
    cooldowns=(
        Cooldown(
            "cooldown.per_debt_call_after_conversation_7d",
            WEEK,
            scope="debt",
            kinds=frozenset({"call"}),
            after_kinds=frozenset({"call"}),
        ),
    ),
    suppression=_SUPPRESSION,
    requires_opt_out_text=frozenset({"email", "sms", "whatsapp"}),
)

_CO_HOURS: Final = WeeklyHours.build(
    weekdays=["07:00-19:00"], saturday=["08:00-15:00"], closed_on_holidays=True
)
CO_LEY_2300: Final = RuleSet(
    id="co_ley_2300",
    description=(
        "Colombia, Ley 2300 de 2023 art. 3: only channels the consumer authorised; "
        "Monday-Friday 07:00-19:00 and Saturday 08:00-15:00, never on Sundays or "
        "public holidays; at most one contact a day and one channel a week."
    ),
    call_hours=_CO_HOURS,
    message_hours=_CO_HOURS,
    caps=(
        Cap("caps.debtor_contacts_1d", 1, DAY),
        Cap("caps.debtor_one_channel_7d", 1, WEEK, measure="channels"),
    ),
    suppression=SuppressionRules(consent_required=ALL_CHANNELS, vulnerable=VULNERABLE_DEFAULT),
)

_CL_HOURS: Final = WeeklyHours.build(weekdays=["08:00-20:00"], closed_on_holidays=True)
CL_LEY_19496: Final = RuleSet(
    id="cl_ley_19496",
    description=(
        "Chile, Ley 19.496 art. 37 as amended by Ley 21.320: at most one call or visit a "
        "week; other means at most two a week, at least two days apart; working days "
        "(Monday-Friday, no public holidays) 08:00-20:00."
    ),
    call_hours=_CL_HOURS,
    message_hours=_CL_HOURS,
    caps=(
        Cap("caps.debtor_calls_7d", 1, WEEK, kinds=frozenset({"call"})),
        Cap("caps.debtor_messages_7d", 2, WEEK, kinds=frozenset({"message"})),
        Cap("caps.debtor_messages_spacing_2d", 1, 2 * DAY, kinds=frozenset({"message"})),
    ),
    suppression=_SUPPRESSION,
)

_MX_HOURS: Final = WeeklyHours.build(
    weekdays=["07:00-22:00"], saturday=["07:00-22:00"], sunday=["07:00-22:00"]
)
MX_CONDUSEF: Final = RuleSet(
    id="mx_condusef",
    description=(
        "Mexico, CONDUSEF general provisions on collection agencies (despachos de "
        "cobranza): collection contacts only 07:00-22:00 in the debtor's time zone."
    ),
    call_hours=_MX_HOURS,
    message_hours=_MX_HOURS,
    suppression=_SUPPRESSION,
)

_PE_HOURS: Final = WeeklyHours.build(weekdays=["07:00-20:00"], closed_on_holidays=True)
PE_LEY_29571: Final = RuleSet(
    id="pe_ley_29571",
    description=(
        "Peru, Ley 29571 (Codigo de Proteccion y Defensa del Consumidor) art. 62(b): no "
        "calls or visits 20:00-07:00, nor on Saturdays, Sundays or public holidays "
        "(applied to messages too, conservatively)."
    ),
    call_hours=_PE_HOURS,
    message_hours=_PE_HOURS,
    suppression=_SUPPRESSION,
)

_SP_HOURS: Final = WeeklyHours.build(
    weekdays=["08:00-20:00"], saturday=["08:00-14:00"], closed_on_holidays=True
)
BR_SP: Final = RuleSet(
    id="br_sp",
    description=(
        "Brazil, State of Sao Paulo, Lei estadual 15.426/2014: collection calls "
        "Monday-Friday 08:00-20:00 and Saturday 08:00-14:00, never on public holidays "
        "(applied to messages too, conservatively)."
    ),
    call_hours=_SP_HOURS,
    message_hours=_SP_HOURS,
    suppression=_SUPPRESSION,
)

PRESETS: Final[Mapping[str, RuleSet]] = MappingProxyType(
    {r.id: r for r in (US_REG_F, CO_LEY_2300, CL_LEY_19496, MX_CONDUSEF, PE_LEY_29571, BR_SP)}
)


def preset(preset_id: str) -> RuleSet:
    try:
        return PRESETS[preset_id]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise KeyError(f"unknown jurisdiction preset {preset_id!r} (known: {known})") from None


def rules_for(ctx: PolicyContext, registry: Mapping[str, RuleSet] = PRESETS) -> RuleSet:
    """The rule set named by the debtor's ``jurisdiction``, from ``registry``
    (the presets, or those plus custom rule sets loaded from files)."""
    try:
        return registry[ctx.jurisdiction]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise KeyError(
            f"no rule set for jurisdiction {ctx.jurisdiction!r} (known: {known})"
        ) from None
