-- Agent tasks, mirrored from the agent-tasks topic for CRMs and agent desktops:
-- one row per task, its latest state (a CLOSED record of the same task_id
-- updates the OPEN row). The transcript and the debtor's 360-degree view at
-- handoff are kept as JSON, as the topic carries them.

CREATE TABLE agent_task (
    task_id          text        PRIMARY KEY,
    debtor_id        text        NOT NULL,
    account_id       text,
    reason           text        NOT NULL,  -- ask_human, hardship, dispute, abusive, unknown, ...
    status           text        NOT NULL,  -- OPEN, CLOSED
    priority         text        NOT NULL,  -- LOW, NORMAL, HIGH, URGENT
    transcript       jsonb       NOT NULL DEFAULT '[]',
    debtor_view      jsonb,                 -- a DebtorView as JSON (debtor_view.avsc)
    suggested_action text,
    created_at       timestamptz NOT NULL,
    closed_at        timestamptz,
    closed_by        text,
    outcome          text,
    event_id         uuid        NOT NULL,  -- the record this row was last written from
    last_event_at    timestamptz NOT NULL,
    written_at       timestamptz NOT NULL DEFAULT now()
);
-- The agents' queue: open tasks, most urgent and oldest first.
CREATE INDEX agent_task_queue ON agent_task (status, priority, created_at);
CREATE INDEX agent_task_debtor ON agent_task (debtor_id);
