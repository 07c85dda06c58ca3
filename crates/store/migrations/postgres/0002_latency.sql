-- How long a complete answer took, from its request to its last token, in milliseconds: what
-- the `done` frame says, kept for the answer's footer after a reload.
ALTER TABLE messages ADD COLUMN latency_ms BIGINT;
