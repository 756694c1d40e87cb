-- Conversation KPIs (recaudo.kpis.conversations): counters that add up like
-- the others, defaulting to zero for the rows written before them. IF NOT
-- EXISTS keeps the migration safe on a table someone already extended.

ALTER TABLE kpi
    ADD COLUMN IF NOT EXISTS messages_read          bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS messages_understood    bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS conversations          bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS conversations_resolved bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS conversation_promises  bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS conversation_plans     bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS handoffs               bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS handoff_reasons        jsonb  NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS answer_latency_ms      jsonb  NOT NULL DEFAULT '{}';
