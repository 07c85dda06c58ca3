-- Conversations and their messages. Ids are UUID v7 (16-byte blobs, so they sort by time);
-- times are integer microseconds since the Unix epoch, UTC (sqlx's text times do not sort).

CREATE TABLE conversations (
    id BLOB PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    model TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- An owner's list, newest first, and its cursor.
CREATE INDEX conversations_by_owner ON conversations (owner, updated_at DESC, id DESC);

CREATE TABLE messages (
    id BLOB PRIMARY KEY NOT NULL,
    conversation_id BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL
        CHECK (status IN ('complete', 'streaming', 'stopped', 'error', 'interrupted')),
    model TEXT,
    reasoning TEXT NOT NULL DEFAULT '',
    usage TEXT, -- JSON: {"inputTokens", "outputTokens"}
    stop_reason TEXT,
    error_code TEXT,
    -- JSON, reserved for structured parts (attachments); unused so far.
    parts TEXT,
    -- The replica writing a streaming answer: its lease in `replicas` keeps the answer live.
    replica_id BLOB,
    created_at INTEGER NOT NULL,
    CHECK (status <> 'streaming' OR replica_id IS NOT NULL)
);

-- A conversation's messages in order (also serves the cascade on delete).
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at, id);

-- The sweep for answers whose replica died.
CREATE INDEX messages_streaming ON messages (replica_id) WHERE status = 'streaming';

-- One row per live (or recently live) replica.
CREATE TABLE replicas (
    id BLOB PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
