-- Days past due as of today. The stored view's days past due are as of its
-- last_event_at (the last event or timer wake-up it folded in); a debtor still
-- owing is one day further past due for each UTC day since. These views age
-- them at read time, as `recaudo debtor show` and `list` do.

CREATE FUNCTION recaudo_bucket(days_past_due integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN days_past_due <= 0 THEN 'CURRENT'
        WHEN days_past_due <= 30 THEN 'DPD_1_30'
        WHEN days_past_due <= 60 THEN 'DPD_31_60'
        WHEN days_past_due <= 90 THEN 'DPD_61_90'
        ELSE 'DPD_90_PLUS'
    END
$$;

-- Whole UTC days from a view's "as of" to now.
CREATE FUNCTION recaudo_days_since(as_of timestamptz) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT GREATEST(0, (now() AT TIME ZONE 'UTC')::date - (as_of AT TIME ZONE 'UTC')::date)
$$;

CREATE VIEW debtor_view_today AS
SELECT v.debtor_id,
       v.last_event_at,
       recaudo_bucket(aged.days_past_due) AS bucket,
       aged.days_past_due AS max_days_past_due
FROM debtor_view v,
     LATERAL (
         SELECT CASE WHEN v.max_days_past_due > 0
                     THEN v.max_days_past_due + recaudo_days_since(v.last_event_at)
                     ELSE 0 END AS days_past_due
     ) aged;

CREATE VIEW debtor_account_today AS
SELECT a.debtor_id,
       a.account_id,
       a.status,
       a.overdue_minor,
       recaudo_bucket(aged.days_past_due) AS bucket,
       aged.days_past_due
FROM debtor_account a
JOIN debtor_view v USING (debtor_id),
     LATERAL (
         SELECT CASE WHEN a.overdue_minor > 0 AND a.status IN ('OPEN', 'CURED')
                     THEN a.days_past_due + recaudo_days_since(v.last_event_at)
                     ELSE a.days_past_due END AS days_past_due
     ) aged;
