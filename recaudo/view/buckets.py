"""Days past due to the collections bucket.

CURRENT is 0 days past due; then 1-30, 31-60, 61-90 and over 90.
"""

from __future__ import annotations

from recaudo.contracts.records import Bucket

BUCKETS: tuple[Bucket, ...] = ("CURRENT", "DPD_1_30", "DPD_31_60", "DPD_61_90", "DPD_90_PLUS")
RANK: dict[Bucket, int] = {b: i for i, b in enumerate(BUCKETS)}
#: The fewest days past due in each bucket: where aging enters it.
LOWEST_DPD: dict[Bucket, int] = {
    "CURRENT": 0,
    "DPD_1_30": 1,
    "DPD_31_60": 31,
    "DPD_61_90": 61,
    "DPD_90_PLUS": 91,
}


def bucket_for(days_past_due: int) -> Bucket:
    if days_past_due <= 0:
        return "CURRENT"
    if days_past_due <= 30:
        return "DPD_1_30"
    if days_past_due <= 60:
        return "DPD_31_60"
    if days_past_due <= 90:
        return "DPD_61_90"
    return "DPD_90_PLUS"


def worst(buckets: list[Bucket]) -> Bucket:
    return max(buckets, key=RANK.__getitem__) if buckets else "CURRENT"
