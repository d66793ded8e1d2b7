//! Helpers for benchmarks and tests that need volume faster than the API gives it. Not
//! used by the service itself.

use eyrie_protocol::clock::unix_ms;
use uuid::Uuid;

use crate::db::{self, new_id};
use crate::state::AppState;
use crate::store::keys;

/// Insert complete recordings `(start_ms, end_ms, size)` for a channel of a device directly
/// in the database (no objects are written: listings and presigning do not need them).
pub async fn seed_recordings(
    state: &AppState,
    device: &Uuid,
    channel: &Uuid,
    rows: &[(i64, i64, u64)],
) -> db::Result<()> {
    let rows: Vec<_> = rows
        .iter()
        .map(|&(start, end, size)| {
            let id = new_id();
            let key = keys::recording(device, channel, start, &id);
            (id, start, end, size, key)
        })
        .collect();
    db::recordings::insert_complete(&state.db, channel, &rows, unix_ms()).await
}
