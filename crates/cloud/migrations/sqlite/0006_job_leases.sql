-- Background jobs that one instance at a time runs (reconciler, retention, deletion
-- queue, sweeps): the instance holding each, until when. A holder renews its lease every
-- round; a dead holder's lease runs out and another instance takes the job over.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms INTEGER NOT NULL
);
-- Retention finds expired recordings by their end, without reading the whole table.
CREATE INDEX recordings_end ON recordings(end_ms);
