"""Days past due to the collections bucket."""

from __future__ import annotations

from recaudo.events import Bucket

BUCKETS: tuple[Bucket, ...] = ("CURRENT", "DPD_1_30", "DPD_31_60", "DPD_61_90", "DPD_90_PLUS")


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
    return max(buckets, key=BUCKETS.index) if buckets else "CURRENT"
