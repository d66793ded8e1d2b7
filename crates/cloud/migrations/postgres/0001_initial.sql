-- Eyrie cloud schema, PostgreSQL flavour (keep in step with migrations/sqlite).
-- Times are unix milliseconds; ids are UUID text; flags are 0/1 integers.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    username_lc TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE mqtt_logins (
    password_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    store_mode TEXT NOT NULL,
    activated BIGINT NOT NULL DEFAULT 0,
    token_hash TEXT UNIQUE,
    secret_sealed TEXT,
    mqtt_password_hash TEXT,
    activation_code_hash TEXT UNIQUE,
    activation_expires_ms BIGINT,
    last_seen_ms BIGINT,
    dropped_segments BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);
CREATE INDEX devices_owner ON devices(owner_id);
CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    kind TEXT NOT NULL
);
CREATE INDEX channels_device ON channels(device_id);
CREATE TABLE pairings (
    token_hash TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_hint TEXT,
    expires_ms BIGINT NOT NULL,
    device_id TEXT,
    consumed BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE recording_keys (
    key_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    key_sealed TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX recording_keys_device ON recording_keys(device_id);
CREATE TABLE recordings (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    status TEXT NOT NULL,
    size BIGINT,
    sha256 TEXT,
    event BIGINT NOT NULL DEFAULT 0,
    key_id TEXT,
    created_ms BIGINT NOT NULL,
    completed_ms BIGINT
);
CREATE INDEX recordings_channel_start ON recordings(channel_id, status, start_ms);
CREATE INDEX recordings_status_created ON recordings(status, created_ms);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT
);
CREATE INDEX events_channel_start ON events(channel_id, start_ms);
CREATE TABLE clips (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    object_key TEXT NOT NULL,
    size BIGINT,
    parts TEXT,
    created_ms BIGINT NOT NULL,
    finished_ms BIGINT,
    deadline_ms BIGINT NOT NULL,
    claimed_by TEXT,
    claim_until_ms BIGINT
);
CREATE INDEX clips_status ON clips(status);
CREATE INDEX clips_owner ON clips(owner_id, created_ms);
CREATE TABLE snapshots (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    object_key TEXT NOT NULL,
    taken_at_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    size BIGINT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX snapshots_channel ON snapshots(channel_id, taken_at_ms);
CREATE TABLE store_deletions (
    object_key TEXT PRIMARY KEY,
    created_ms BIGINT NOT NULL
);
