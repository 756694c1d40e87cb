-- The 360-degree debtor view, materialised from the debtor-view topic.
-- One row per debtor; its accounts, promises, disputes and channels in child
-- tables so analysts can query them with plain SQL.

CREATE TABLE debtor_view (
    debtor_id             text PRIMARY KEY,
    version               bigint      NOT NULL,
    snapshot_id           uuid        NOT NULL,
    last_event_at         timestamptz NOT NULL,
    bucket                text        NOT NULL,
    max_days_past_due     integer     NOT NULL,
    language              text,
    time_zone             text,
    country               text,
    jurisdiction          text,
    risk_segment          text,
    preferred_channel     text,
    deceased              boolean     NOT NULL DEFAULT false,
    bankruptcy            boolean     NOT NULL DEFAULT false,
    cease_and_desist      boolean     NOT NULL DEFAULT false,
    vulnerable            boolean     NOT NULL DEFAULT false,
    last_payment_at       timestamptz,
    last_payment_minor    bigint,
    last_payment_currency text,
    snapshot              jsonb       NOT NULL,
    written_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX debtor_view_bucket ON debtor_view (bucket);

CREATE TABLE debtor_total (
    debtor_id     text   NOT NULL REFERENCES debtor_view ON DELETE CASCADE,
    currency      text   NOT NULL,
    balance_minor bigint NOT NULL,
    overdue_minor bigint NOT NULL,
    PRIMARY KEY (debtor_id, currency)
);

CREATE TABLE debtor_account (
    debtor_id          text    NOT NULL REFERENCES debtor_view ON DELETE CASCADE,
    account_id         text    NOT NULL,
    product            text,
    status             text    NOT NULL,
    currency           text    NOT NULL,
    balance_minor      bigint  NOT NULL,
    overdue_minor      bigint  NOT NULL,
    days_past_due      integer NOT NULL,
    bucket             text    NOT NULL,
    next_due_date      date,
    next_due_minor     bigint,
    last_payment_at    timestamptz,
    last_payment_minor bigint,
    PRIMARY KEY (debtor_id, account_id)
);

CREATE TABLE debtor_promise (
    debtor_id     text   NOT NULL REFERENCES debtor_view ON DELETE CASCADE,
    promise_id    text   NOT NULL,
    account_id    text   NOT NULL,
    amount_minor  bigint NOT NULL,
    currency      text   NOT NULL,
    promised_date date   NOT NULL,
    status        text   NOT NULL,
    PRIMARY KEY (debtor_id, promise_id)
);

CREATE TABLE debtor_dispute (
    debtor_id  text        NOT NULL REFERENCES debtor_view ON DELETE CASCADE,
    dispute_id text        NOT NULL,
    account_id text        NOT NULL,
    status     text        NOT NULL,
    opened_at  timestamptz NOT NULL,
    PRIMARY KEY (debtor_id, dispute_id)
);

CREATE TABLE debtor_channel (
    debtor_id        text    NOT NULL REFERENCES debtor_view ON DELETE CASCADE,
    channel          text    NOT NULL,
    address          text,
    consent          boolean NOT NULL,
    opted_out        boolean NOT NULL,
    valid            boolean NOT NULL,
    sent             integer NOT NULL,
    delivered        integer NOT NULL,
    read             integer NOT NULL,
    replied          integer NOT NULL,
    failed           integer NOT NULL,
    last_contact_at  timestamptz,
    last_response_at timestamptz,
    PRIMARY KEY (debtor_id, channel)
);

-- Views for analysts ---------------------------------------------------------

CREATE VIEW debtors_by_bucket AS
SELECT v.bucket,
       t.currency,
       count(*)             AS debtors,
       sum(t.balance_minor)::bigint AS balance_minor,
       sum(t.overdue_minor)::bigint AS overdue_minor
FROM debtor_view v
JOIN debtor_total t USING (debtor_id)
GROUP BY v.bucket, t.currency;

CREATE VIEW open_promises AS
SELECT p.debtor_id, p.promise_id, p.account_id, p.amount_minor, p.currency,
       p.promised_date, v.bucket, v.time_zone
FROM debtor_promise p
JOIN debtor_view v USING (debtor_id)
WHERE p.status = 'PENDING';

CREATE VIEW contact_history AS
SELECT c.debtor_id, c.channel, c.sent, c.delivered, c.read, c.replied, c.failed,
       c.last_contact_at, c.last_response_at, c.opted_out, c.valid,
       CASE WHEN c.sent > 0 THEN round(c.replied::numeric / c.sent, 4) END AS reply_rate
FROM debtor_channel c;
