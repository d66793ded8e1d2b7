-- A snapshot the owner asked the camera for (POST /devices/{id}/snapshot-request): the
-- time it was asked, handed to the camera once by its next heartbeat and then cleared.
ALTER TABLE devices ADD COLUMN snapshot_requested_ms INTEGER;
