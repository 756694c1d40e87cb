"""The per-debtor state behind the 360-degree view, and its bytes.

What is kept, and why that makes the view order-free, is told in
:mod:`recaudo.view.facts`. This module holds it together and frames it as
bytes for the processor's store (layout 1): a header (layout, clock, latest
event time, debtor id), then the profile, each account and each channel as a
length-prefixed section (:mod:`recaudo.view.codec`). Each account's ``wake_at``
sits outside its section, so time-driven checks read it without decoding.

Sections decode lazily: a decoded state holds the bytes of each section and
turns one into objects only when it is read, and encoding copies the bytes of
sections nobody changed since they were last decoded or encoded (read for a
snapshot, say). An event touches one account or one channel, so encoding pays
for that section only. A section changes only through
:meth:`DebtorState.add_account`, :meth:`DebtorState.add_channel` or the
``profile`` setter, each of which forgets the section's bytes (and, for
channels and the profile, the channel views built from them): a caller
changes the facts they return before the state is next encoded, never
after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from struct import Struct
from typing import TYPE_CHECKING

from recaudo.contracts.records import CHANNELS, Channel
from recaudo.view.codec import (
    PROFILE_KEY,
    Reader,
    decode_account,
    decode_channel,
    decode_profile,
    encode_account,
    encode_channel,
    encode_profile,
    text,
)
from recaudo.view.facts import AccountFacts, ChannelFacts, Profile
from recaudo.view.timebase import from_ms

if TYPE_CHECKING:
    from recaudo.contracts.records import ChannelView
    from recaudo.view.contacts import ChannelEngagement

LAYOUT = 1
_HEADER = Struct("<BqqHBI")
_ACCOUNT = Struct("<qI")
_CHANNEL = Struct("<BI")


class DebtorState:
    """Everything the view knows about one debtor; typically well under 2 KiB
    encoded.

    Owned by its caller: :func:`~recaudo.view.reducer.apply` and
    :func:`~recaudo.view.reducer.tick` update it in place and return it. A
    plain slots class rather than a dataclass: sections are decoded on first
    read (see the module docstring), which needs accessors, not fields.
    """

    __slots__ = (
        "_accounts",
        "_channel_views",
        "_channels",
        "_clean_accounts",
        "_clean_channels",
        "_clean_profile",
        "_profile",
        "_raw_accounts",
        "_raw_channels",
        "_raw_profile",
        "clock",
        "debtor_id",
        "seen",
    )

    def __init__(self, debtor_id: str = "", clock: int = 0, seen: int = 0) -> None:
        self.debtor_id = debtor_id
        #: "now" for aging and promises: the latest event time seen or tick's now (ms)
        self.clock = clock
        #: the latest event time seen (ms): the view's ``occurred_at``
        self.seen = seen
        self._profile: Profile | None = None
        self._raw_profile: bytes | None = None
        self._accounts: dict[str, AccountFacts] = {}
        #: account id -> (wake_at, framed section, where its body starts), not decoded yet
        self._raw_accounts: dict[str, tuple[int, bytes, int]] = {}
        self._channels: dict[Channel, ChannelFacts] = {}
        #: channel -> framed section (the body starts after _CHANNEL), not decoded yet
        self._raw_channels: dict[Channel, bytes] = {}
        # The bytes of decoded sections unchanged since decoded or encoded.
        self._clean_profile: bytes | None = None
        #: account id -> its section's body
        self._clean_accounts: dict[str, bytes] = {}
        #: channel -> framed section
        self._clean_channels: dict[Channel, bytes] = {}
        #: the snapshot's channel views, while the profile and channels stay
        #: as they were (:func:`recaudo.view.contacts.channel_views`)
        self._channel_views: tuple[ChannelView, ...] | None = None

    # --- profile ---------------------------------------------------------------------

    @property
    def profile(self) -> Profile | None:
        raw = self._raw_profile
        if raw is not None:
            self._profile, self._raw_profile, self._clean_profile = decode_profile(raw), None, raw
        return self._profile

    @profile.setter
    def profile(self, value: Profile | None) -> None:
        self._profile, self._raw_profile, self._clean_profile = value, None, None
        self._channel_views = None

    def profile_key(self) -> tuple[int, int] | None:
        """(event time, tie) of the profile held, without decoding it."""
        if self._raw_profile is not None:
            at, tie = PROFILE_KEY.unpack_from(self._raw_profile)
            return at, tie
        return (self._profile.at, self._profile.tie) if self._profile is not None else None

    # --- accounts --------------------------------------------------------------------

    def account(self, account_id: str) -> AccountFacts | None:
        facts = self._accounts.get(account_id)
        if facts is None and account_id in self._raw_accounts:
            wake_at, framed, body = self._raw_accounts.pop(account_id)
            section = self._clean_accounts[account_id] = framed[body:]
            facts = self._accounts[account_id] = decode_account(section, wake_at)
        return facts

    def add_account(self, account_id: str) -> AccountFacts:
        """The account's facts, to change (new ones if it has none)."""
        facts = self.account(account_id)
        self._clean_accounts.pop(account_id, None)
        if facts is None:
            facts = self._accounts[account_id] = AccountFacts()
        return facts

    @property
    def accounts(self) -> dict[str, AccountFacts]:
        """Every account, decoded (by id)."""
        for account_id in list(self._raw_accounts):
            self.account(account_id)
        return self._accounts

    def wake_times(self) -> Iterator[tuple[str, int]]:
        """(account id, wake_at) of every account, decoded or not."""
        for account_id, facts in self._accounts.items():
            yield account_id, facts.wake_at
        for account_id, (wake_at, _, _) in self._raw_accounts.items():
            yield account_id, wake_at

    # --- channels --------------------------------------------------------------------

    def channel(self, channel: Channel) -> ChannelFacts | None:
        facts = self._channels.get(channel)
        if facts is None and channel in self._raw_channels:
            framed = self._clean_channels[channel] = self._raw_channels.pop(channel)
            facts = self._channels[channel] = decode_channel(framed[_CHANNEL.size :])
        return facts

    def add_channel(self, channel: Channel) -> ChannelFacts:
        """The channel's facts, to change (new ones if it has none)."""
        facts = self.channel(channel)
        self._clean_channels.pop(channel, None)
        self._channel_views = None
        if facts is None:
            facts = self._channels[channel] = ChannelFacts()
        return facts

    @property
    def channels(self) -> dict[Channel, ChannelFacts]:
        """Every channel with contacts, decoded."""
        for channel in list(self._raw_channels):
            self.channel(channel)
        return self._channels

    # --- whole state -----------------------------------------------------------------

    @property
    def version(self) -> int:
        """How many facts are known. It never decreases (a replaced fact
        counts once, a fact dropped by a bound stays counted in ``retired``)
        and, within the bounds, ends equal for the same events in any order."""
        count = 1 if self.profile_key() is not None else 0
        count += sum(a.fact_count() for a in self.accounts.values())
        return count + sum(c.fact_count() for c in self.channels.values())

    @property
    def next_wakeup(self) -> datetime | None:
        """When :func:`~recaudo.view.reducer.tick` next has something to
        derive (a bucket boundary, a promise date), for the processor's
        timer; None when only a new event can change anything."""
        wakes = [wake_at for _, wake_at in self.wake_times() if wake_at]
        return from_ms(min(wakes)) if wakes else None

    def engagement(self) -> dict[Channel, ChannelEngagement]:
        """Per channel: attempts, deliveries, reads, replies and replies by
        local six-hour block, for the orchestrator's channel choice and the learner."""
        from recaudo.view.contacts import engagement

        return engagement(self)

    def channel_views(self) -> list[ChannelView]:
        """The snapshot's channel views (:func:`recaudo.view.contacts.channel_views`),
        remembered until the profile or a channel changes: most events
        change neither."""
        if self._channel_views is None:
            from recaudo.view.contacts import channel_views

            self._channel_views = tuple(channel_views(self))
        return list(self._channel_views)

    def assign(self, other: DebtorState) -> None:
        """Become ``other``, keeping this object's identity (others hold it)."""
        for name in DebtorState.__slots__:
            setattr(self, name, getattr(other, name))

    def encode(self) -> bytes:
        """The state's bytes. Each section changed since the last encode (or
        decode) is encoded; the others are copied."""
        if self._raw_profile is not None:
            profile = self._raw_profile
        elif self._clean_profile is not None:
            profile = self._clean_profile
        elif self._profile is not None:
            profile = self._clean_profile = encode_profile(self._profile)
        else:
            profile = b""
        account_ids = sorted([*self._accounts, *self._raw_accounts])
        channels = [c for c in CHANNELS if c in self._channels or c in self._raw_channels]
        out = [
            _HEADER.pack(
                LAYOUT, self.clock, self.seen, len(account_ids), len(channels), len(profile)
            ),
            text(self.debtor_id),
            profile,
        ]
        # Sections nobody read are copied through, frame and all.
        for account_id in account_ids:
            facts = self._accounts.get(account_id)
            if facts is None:
                out.append(self._raw_accounts[account_id][1])
            else:
                raw = self._clean_accounts.get(account_id)
                if raw is None:
                    raw = self._clean_accounts[account_id] = encode_account(facts)
                # wake_at sits outside the section: always the current one.
                out += [text(account_id), _ACCOUNT.pack(facts.wake_at, len(raw)), raw]
        for channel in channels:
            c = self._channels.get(channel)
            if c is None:
                out.append(self._raw_channels[channel])
            else:
                framed = self._clean_channels.get(channel)
                if framed is None:
                    raw = encode_channel(c)
                    framed = _CHANNEL.pack(CHANNELS.index(channel), len(raw)) + raw
                    self._clean_channels[channel] = framed
                out.append(framed)
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes) -> DebtorState:
        r = Reader(data)
        layout, clock, seen, n_accounts, n_channels, profile_len = r.take(_HEADER)
        if layout != LAYOUT:
            raise ValueError(f"debtor state layout {layout} is not one this recaudo reads")
        state = cls(r.str(), clock, seen)
        if profile_len:
            state._raw_profile = r.bytes(profile_len)
        for _ in range(n_accounts):
            start = r.pos
            account_id = r.str()
            wake_at, length = r.take(_ACCOUNT)
            body = r.pos - start
            r.pos += length
            state._raw_accounts[account_id] = (wake_at, data[start : r.pos], body)
        for _ in range(n_channels):
            start = r.pos
            code, length = r.take(_CHANNEL)
            r.pos += length
            state._raw_channels[CHANNELS[code]] = data[start : r.pos]
        r.done()
        return state

    def __eq__(self, other: object) -> bool:
        # Encoding is canonical: equal bytes are equal states.
        return isinstance(other, DebtorState) and self.encode() == other.encode()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"DebtorState(debtor_id={self.debtor_id!r}, clock={self.clock}, seen={self.seen}, "
            f"accounts={sorted([*self._accounts, *self._raw_accounts])}, "
            f"channels={[c for c in CHANNELS if c in self._channels or c in self._raw_channels]})"
        )
