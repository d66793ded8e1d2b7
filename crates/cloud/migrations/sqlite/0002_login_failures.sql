-- Failed logins per key (a digest of "u:<user name>" or "ip:<address>"), shared by every
-- instance on this database: `failures` counted since `window_start_ms`.
CREATE TABLE login_failures (
    key_hash TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start_ms BIGINT NOT NULL
);
CREATE INDEX login_failures_window ON login_failures(window_start_ms);
