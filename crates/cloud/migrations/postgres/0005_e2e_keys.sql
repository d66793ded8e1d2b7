-- End-to-end keys (docs/keys.md, docs/api.md §13). The cloud stores what it cannot read:
-- signed key set statements, the relayed pairing check, content keys only as wraps to
-- viewer keys, and installations waiting to be admitted.
CREATE TABLE keyset_statements (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    statement TEXT NOT NULL,
    signer TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, version)
);
CREATE TABLE pairing_checks (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    attempt TEXT NOT NULL,
    camera TEXT NOT NULL,
    viewer TEXT,
    outcome TEXT,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE content_keys (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    keyset_version BIGINT NOT NULL,
    PRIMARY KEY (device_id, key_id)
);
CREATE TABLE content_key_wraps (
    device_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    viewer_key_id TEXT NOT NULL,
    enc TEXT NOT NULL,
    ct TEXT NOT NULL,
    PRIMARY KEY (device_id, key_id, viewer_key_id),
    FOREIGN KEY (device_id, key_id) REFERENCES content_keys(device_id, key_id) ON DELETE CASCADE
);
CREATE TABLE installation_requests (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    name TEXT NOT NULL,
    public TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, key_id)
);
