"""Per-member windows: event-time hours, a running total, replays skipped."""

from __future__ import annotations

from recaudo.kpis import WINDOW_MS, Contribution, Counters, aggregate, contributions
from recaudo.kpis.attribution import Attribution, Touch
from recaudo.kpis.windows import WINDOW_RETENTION_MS


class DictStore:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


H0 = 1_790_000_000_000 - 1_790_000_000_000 % WINDOW_MS


def contribution(at: int, offset: int, source: str = "t:0", **counters: int) -> Contribution:
    return Contribution(
        "CHANNEL", "sms", at, source, offset, Counters.from_dict(counters).to_dict(sparse=True)
    )


def test_one_event_spreads_over_its_members_once_each() -> None:
    found = contributions(
        [
            Attribution(H0, Touch("sms", "DPD_1_30", None), Counters(contacts=1)),
            Attribution(H0, Touch("sms", None, "s/A"), Counters(promises_kept=1)),
        ],
        "decisions",
        2,
        41,
    )
    by_key = {c.key: c for c in found}
    assert sorted(by_key) == ["ALL:all", "ARM:s/A", "BUCKET:DPD_1_30", "CHANNEL:sms"]
    assert by_key["CHANNEL:sms"].counters == Counters(contacts=1, promises_kept=1)
    assert by_key["ARM:s/A"].counters == Counters(promises_kept=1)
    assert {(c.source, c.offset) for c in found} == {("decisions:2", 41)}
    assert Contribution.from_json(by_key["ALL:all"].to_json()) == by_key["ALL:all"]


def test_hourly_windows_and_running_total() -> None:
    store = DictStore()
    rows = aggregate(store, contribution(H0 + 5, 1, contacts=1))
    assert [(r.period, r.window_start_ms, r.revision) for r in rows] == [
        ("TOTAL", 0, 1),
        ("HOUR", H0, 1),
    ]
    aggregate(store, contribution(H0 + 10, 2, contacts=1, delivered=1))
    rows = aggregate(store, contribution(H0 + WINDOW_MS + 1, 3, contacts=1))
    total, hour = rows
    assert total.counters.contacts == 3 and total.revision == 3
    assert hour.window_start_ms == H0 + WINDOW_MS and hour.counters.contacts == 1
    assert hour.window_end_ms == H0 + 2 * WINDOW_MS and total.window_end_ms is None


def test_redelivered_contributions_are_skipped_per_source_partition() -> None:
    store = DictStore()
    aggregate(store, contribution(H0, 7, contacts=1))
    assert aggregate(store, contribution(H0, 7, contacts=1)) == []
    assert aggregate(store, contribution(H0, 3, contacts=1)) == []
    # The same offset of another partition is another event.
    (total, _) = aggregate(store, contribution(H0, 7, source="t:1", contacts=1))
    assert total.counters.contacts == 2


def test_late_events_count_in_held_windows_and_old_windows_leave_the_state() -> None:
    store = DictStore()
    aggregate(store, contribution(H0, 1, contacts=1))
    late = aggregate(store, contribution(H0 + 10 * WINDOW_MS, 2, contacts=1))
    assert len(late) == 2
    back = aggregate(store, contribution(H0 + 30, 3, contacts=1))
    assert [r.period for r in back] == ["TOTAL", "HOUR"] and back[1].counters.contacts == 2
    far = H0 + WINDOW_RETENTION_MS + 20 * WINDOW_MS
    aggregate(store, contribution(far, 4, contacts=1))
    assert f"w{H0}" not in store.data
    too_late = aggregate(store, contribution(H0 + 40, 5, contacts=1))
    assert [r.period for r in too_late] == ["TOTAL"]
    assert too_late[0].counters.contacts == 5
