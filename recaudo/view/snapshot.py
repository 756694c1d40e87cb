"""A debtor's state as the published :class:`~recaudo.events.DebtorView`."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from recaudo.events import (
    CHANNELS,
    AccountView,
    ChannelView,
    DebtorFlags,
    DebtorView,
    DisputeView,
    PromiseView,
    Total,
)
from recaudo.view.accounts import summarize
from recaudo.view.buckets import worst
from recaudo.view.state import DebtorState, from_day, from_ms

SNAPSHOT_NAMESPACE = uuid.UUID("6a0c2b8e-1d4f-4e9a-b7c3-5f8e2d1a9b60")


def snapshot(state: DebtorState, debtor_id: str) -> DebtorView:
    """The view of ``state``. Its event id is a hash of its content, so the same
    facts always publish the same snapshot (and a replay, the same ids)."""
    accounts = []
    promises = []
    disputes = []
    totals: dict[str, list[int]] = {}
    last_payment: tuple[int, int, str] | None = None
    for account_id in sorted(state.accounts):
        facts = state.accounts[account_id]
        s = summarize(facts, state.as_of)
        if not facts.currency:
            continue  # known only by a dispute so far: no money to show yet
        opened = facts.opened
        accounts.append(
            AccountView(
                account_id=account_id,
                product=opened[3] if opened else None,
                status=s.status,
                currency=facts.currency,
                balance_minor=s.balance,
                overdue_minor=s.overdue,
                days_past_due=s.days_past_due,
                bucket=s.bucket,
                next_due_date=from_day(s.next_due_day) if s.next_due_day else None,
                next_due_minor=s.next_due_minor,
                last_payment_at=from_ms(s.last_payment_at) if s.last_payment_at else None,
                last_payment_minor=s.last_payment_minor,
            )
        )
        if s.status in ("OPEN", "CURED"):
            total = totals.setdefault(facts.currency, [0, 0])
            total[0] += s.balance
            total[1] += s.overdue
        if s.last_payment_at is not None and s.last_payment_minor is not None:
            candidate = (s.last_payment_at, s.last_payment_minor, facts.currency)
            if last_payment is None or candidate > last_payment:
                last_payment = candidate
        statuses = dict(s.promises)
        for promise_id, (_, amount, promised_day) in sorted(facts.promises.items()):
            promises.append(
                PromiseView(
                    promise_id=promise_id,
                    account_id=account_id,
                    amount_minor=amount,
                    currency=facts.currency,
                    promised_date=from_day(promised_day),
                    status=statuses[promise_id],
                )
            )
        for dispute_id, (opened_at, _, outcome) in sorted(facts.disputes.items()):
            if opened_at is None:
                continue  # a resolution whose opening has not arrived yet
            disputes.append(
                DisputeView(
                    dispute_id=dispute_id,
                    account_id=account_id,
                    status=outcome or "OPEN",
                    opened_at=from_ms(opened_at),
                )
            )

    profile = state.profile
    points: dict[str, list[Any]] = {}
    if profile is not None:
        for channel, address, consent, valid in profile[9]:
            points.setdefault(channel, [address, consent, valid])
    profile_at = profile[0] if profile is not None else -1
    channels = []
    for channel in CHANNELS:
        point = points.get(channel)
        facts_c = state.channels.get(channel)
        if point is None and facts_c is None:
            continue
        address, consent, valid = point if point else (None, False, False)
        invalid_at = facts_c.invalid_at if facts_c else None
        opted_at = facts_c.opted_out_at if facts_c else None
        channels.append(
            ChannelView(
                channel=channel,
                address=address,
                consent=bool(consent),
                # A newer profile restores what an older bounce or opt-out took away.
                opted_out=opted_at is not None and opted_at > profile_at,
                valid=bool(valid) and not (invalid_at is not None and invalid_at > profile_at),
                sent=facts_c.count("s") if facts_c else 0,
                delivered=facts_c.count("d") if facts_c else 0,
                read=facts_c.count("r") if facts_c else 0,
                replied=facts_c.count("y") if facts_c else 0,
                failed=facts_c.count("f") if facts_c else 0,
                last_contact_at=from_ms(facts_c.last_contact)
                if facts_c and facts_c.last_contact
                else None,
                last_response_at=from_ms(facts_c.last_response)
                if facts_c and facts_c.last_response
                else None,
            )
        )

    open_accounts = [a for a in accounts if a.status in ("OPEN", "CURED")]
    flags = profile[8] if profile is not None else [False, False, False, False]
    view = DebtorView(
        event_id=SNAPSHOT_NAMESPACE,
        occurred_at=from_ms(state.as_of),
        source="recaudo.view",
        debtor_id=debtor_id,
        version=state.version,
        language=profile[1] if profile else None,
        time_zone=profile[2] if profile else None,
        country=profile[3] if profile else None,
        jurisdiction=profile[5] if profile else None,
        risk_segment=profile[7] if profile else None,
        preferred_channel=profile[6] if profile else None,
        flags=DebtorFlags(
            deceased=flags[0], bankruptcy=flags[1], cease_and_desist=flags[2], vulnerable=flags[3]
        ),
        bucket=worst([a.bucket for a in open_accounts]),
        max_days_past_due=max((a.days_past_due for a in open_accounts), default=0),
        totals=[
            Total(currency=c, balance_minor=b, overdue_minor=o)
            for c, (b, o) in sorted(totals.items())
        ],
        accounts=accounts,
        promises=promises,
        disputes=disputes,
        channels=channels,
        last_payment_at=from_ms(last_payment[0]) if last_payment else None,
        last_payment_minor=last_payment[1] if last_payment else None,
        last_payment_currency=last_payment[2] if last_payment else None,
    )
    # Every list above is built in a fixed order, so the JSON is canonical.
    digest = hashlib.blake2b(view.model_dump_json().encode(), digest_size=16).hexdigest()
    return view.model_copy(update={"event_id": uuid.uuid5(SNAPSHOT_NAMESPACE, digest)})
