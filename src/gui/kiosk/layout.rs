//! What the kiosk shows where: the layout chosen in the settings, which cameras fill it,
//! and the retry delays of its tiles. Pure functions, so they are tested without a display.

use std::time::Duration;

use eyrie_protocol::api::Device;

/// The `kiosk-layout` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One camera filling the screen (HD).
    Single,
    /// A square grid of `side × side` cameras (SD).
    Grid(u32),
    /// One camera at a time, the next one every `kiosk-cycle-seconds` (HD).
    Cycle,
}

impl Layout {
    /// From the enum nick in the schema (`single`, `grid-2x2`, `grid-3x3`, `grid-4x4`,
    /// `cycle`); anything else is the default 2×2 grid.
    pub fn from_nick(nick: &str) -> Self {
        match nick {
            "single" => Self::Single,
            "grid-3x3" => Self::Grid(3),
            "grid-4x4" => Self::Grid(4),
            "cycle" => Self::Cycle,
            _ => Self::Grid(2),
        }
    }

    pub fn nick(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Grid(3) => "grid-3x3",
            Self::Grid(4) => "grid-4x4",
            Self::Grid(_) => "grid-2x2",
            Self::Cycle => "cycle",
        }
    }

    /// All layouts in the order the preferences list them.
    pub const ALL: [Self; 5] = [
        Self::Single,
        Self::Grid(2),
        Self::Grid(3),
        Self::Grid(4),
        Self::Cycle,
    ];

    /// How many tiles are on screen at once.
    pub fn slots(self) -> usize {
        match self {
            Self::Single | Self::Cycle => 1,
            Self::Grid(side) => (side * side) as usize,
        }
    }

    /// Columns (= rows) of the grid.
    pub fn side(self) -> u32 {
        match self {
            Self::Grid(side) => side,
            Self::Single | Self::Cycle => 1,
        }
    }

    /// Grid tiles take the SD sub stream; a tile alone on the screen the HD main stream.
    pub fn hd(self) -> bool {
        matches!(self, Self::Single | Self::Cycle)
    }

    /// Column and row of the `index`-th tile.
    pub fn cell(self, index: usize) -> (i32, i32) {
        let side = self.side().max(1) as usize;
        ((index % side) as i32, (index / side) as i32)
    }
}

/// The cameras the kiosk shows, in order: the ids listed in `kiosk-cameras` that exist
/// (unknown ids are skipped, so a removed camera leaves no hole), or every camera when
/// the list is empty or names none of them.
pub fn choose(devices: &[Device], chosen: &[String]) -> Vec<Device> {
    let picked: Vec<Device> = chosen
        .iter()
        .filter_map(|id| devices.iter().find(|d| d.id.to_string() == *id))
        .cloned()
        .collect();
    if picked.is_empty() {
        devices.to_vec()
    } else {
        picked
    }
}

/// Delay before the `attempt`-th retry of a tile (0-based): 0.5 s, then every second for
/// the first ~20 s, then every 3 s. A wall screen retries for ever and never waits long,
/// so that a tile is back within seconds of its camera: a restarting camera is offline
/// for one to three seconds, and a longer step there (2 s, 3 s) put the tile up to 3 s
/// behind it (`cargo bench --bench kiosk`: recover_after_restart_s); failures a retry cannot cure by itself (a refused ticket, a
/// missing plug-in) still retry, every 30 s, in case a person fixed the cause.
pub fn retry_delay(attempt: u32, curable: bool) -> Duration {
    if !curable {
        return Duration::from_secs(30);
    }
    match attempt {
        0 => Duration::from_millis(500),
        1..=20 => Duration::from_secs(1),
        _ => Duration::from_secs(3),
    }
}

/// A frame older than this marks a tile stale.
pub const STALE_AFTER: Duration = Duration::from_secs(2);
/// A stale tile is reconnected after this long without a frame.
pub const RECONNECT_STALE_AFTER: Duration = Duration::from_secs(4);
/// How long a tile waits for the camera's answer to its offer. An offer sent while the
/// camera restarts is lost (nobody subscribed yet); waiting less repeats it sooner.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(4);
/// A connection attempt that brought no frame in this time is started again.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u128, name: &str) -> Device {
        Device {
            id: uuid::Uuid::from_u128(n),
            name: name.into(),
            store_mode: Default::default(),
            activated: true,
            online: true,
            last_seen_ms: None,
            dropped_segments: 0,
            channels: vec![],
            created_ms: 0,
        }
    }

    #[test]
    fn nicks_round_trip_and_unknown_is_two_by_two() {
        for l in Layout::ALL {
            assert_eq!(Layout::from_nick(l.nick()), l);
        }
        assert_eq!(Layout::from_nick("bogus"), Layout::Grid(2));
        assert_eq!(Layout::Grid(3).slots(), 9);
        assert_eq!(Layout::Grid(4).slots(), 16);
        assert_eq!(Layout::Cycle.slots(), 1);
        assert!(!Layout::Grid(2).hd() && Layout::Single.hd() && Layout::Cycle.hd());
    }

    #[test]
    fn cells_fill_rows_first() {
        let l = Layout::Grid(3);
        assert_eq!(l.cell(0), (0, 0));
        assert_eq!(l.cell(2), (2, 0));
        assert_eq!(l.cell(3), (0, 1));
        assert_eq!(l.cell(8), (2, 2));
    }

    #[test]
    fn chosen_cameras_keep_their_order_and_skip_unknown_ids() {
        let all = vec![device(1, "a"), device(2, "b"), device(3, "c")];
        let ids = |v: Vec<Device>| v.into_iter().map(|d| d.name).collect::<Vec<_>>();
        assert_eq!(ids(choose(&all, &[])), ["a", "b", "c"]);
        let chosen = vec![
            uuid::Uuid::from_u128(3).to_string(),
            "gone".into(),
            uuid::Uuid::from_u128(1).to_string(),
        ];
        assert_eq!(ids(choose(&all, &chosen)), ["c", "a"]);
        assert_eq!(ids(choose(&all, &["gone".into()])), ["a", "b", "c"]);
    }

    #[test]
    fn retries_never_wait_long_and_never_stop() {
        let total: Duration = (0..5).map(|a| retry_delay(a, true)).sum();
        assert!(total <= Duration::from_secs(5), "{total:?}");
        assert!((1..=20).all(|a| retry_delay(a, true) <= Duration::from_secs(1)));
        assert_eq!(retry_delay(1000, true), Duration::from_secs(3));
        assert_eq!(retry_delay(0, false), Duration::from_secs(30));
    }
}
