-- The listing orders a channel's complete recordings by (start_ms, id): an index in that
-- order serves it without a sort step.
DROP INDEX recordings_channel_start;
CREATE INDEX recordings_channel_start_id ON recordings(channel_id, status, start_ms, id);
