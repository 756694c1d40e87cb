-- Collection KPIs, materialised from the KPI processor (the kpis topic's rows).
-- One row per dimension member and hourly event-time window, plus one running
-- total per member (period TOTAL, window_start at the epoch). Only counters
-- are stored: they add up across windows and members, rates do not; the
-- kpi_rates view derives the rates.

CREATE TABLE kpi (
    dimension        text        NOT NULL,  -- ALL, CHANNEL, BUCKET, ARM
    member           text        NOT NULL,  -- all, a channel, a bucket, strategy/arm
    period           text        NOT NULL,  -- HOUR, TOTAL
    window_start     timestamptz NOT NULL,
    window_end       timestamptz,
    revision         bigint      NOT NULL,
    last_event_at    timestamptz NOT NULL,
    contacts         bigint      NOT NULL,
    calls            bigint      NOT NULL,
    delivered        bigint      NOT NULL,
    failed           bigint      NOT NULL,
    replied          bigint      NOT NULL,
    right_party      bigint      NOT NULL,
    deferred         bigint      NOT NULL,
    suppressed       bigint      NOT NULL,
    promises         bigint      NOT NULL,
    promises_kept    bigint      NOT NULL,
    promises_broken  bigint      NOT NULL,
    payments         bigint      NOT NULL,
    cures            bigint      NOT NULL,
    episodes         bigint      NOT NULL,
    contacted_cures  bigint      NOT NULL,
    contacts_to_cure bigint      NOT NULL,
    recovered_minor  jsonb       NOT NULL DEFAULT '{}',
    suppressions     jsonb       NOT NULL DEFAULT '{}',
    written_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dimension, member, period, window_start)
);
CREATE INDEX kpi_hourly ON kpi (period, window_start);

CREATE VIEW kpi_rates AS
SELECT dimension, member, period, window_start, window_end, contacts,
       round(delivered::numeric / nullif(contacts, 0), 4)                   AS delivery_rate,
       round(right_party::numeric / nullif(calls, 0), 4)                    AS right_party_rate,
       round(replied::numeric / nullif(contacts - calls, 0), 4)             AS reply_rate,
       round(promises::numeric / nullif(contacts, 0), 4)                    AS promise_rate,
       round(promises_kept::numeric / nullif(promises_kept + promises_broken, 0), 4)
                                                                            AS promise_kept_rate,
       round(contacted_cures::numeric / nullif(episodes, 0), 4)             AS cure_rate,
       round(contacts_to_cure::numeric / nullif(contacted_cures, 0), 2)     AS contacts_per_cure,
       recovered_minor,
       suppressions
FROM kpi;
