-- Versions of the learned contact choice's model (docs/learning.md), as the
-- learner service publishes them to recaudo.learner-model, with the ledger of
-- decisions still waiting for their reward: the learner resumes from the
-- latest row after a restart, and any version can be loaded to replay or
-- explain the decisions that name it.

CREATE TABLE learner_model (
    model_version     text        PRIMARY KEY,
    previous_version  text,
    decisions_learned bigint      NOT NULL,
    vw_args           text        NOT NULL,
    model             bytea       NOT NULL,
    ledger            bytea       NOT NULL,  -- recaudo.learning.online.RewardLedger, encoded
    created_at        timestamptz NOT NULL,
    written_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX learner_model_latest ON learner_model (decisions_learned DESC, created_at DESC);
