//! What a camera's live sessions tell the app and the log, and why one could not be built.

use eyrie_protocol::signalling::{ErrorCode, Stream};

/// What happened, for the app and the log.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    LiveStart {
        session_id: String,
        viewer: String,
        stream: Stream,
    },
    LiveStop {
        session_id: String,
        reason: String,
    },
    StreamChanged {
        session_id: String,
        stream: Stream,
    },
    AudioChanged {
        session_id: String,
        on: bool,
    },
    TalkStart {
        session_id: String,
    },
    TalkStop {
        session_id: String,
    },
    /// Loudness of the viewer's talk audio after decoding, dBFS, every 100 ms while talking.
    TalkLevel {
        session_id: String,
        rms_db: f64,
    },
    /// A session moved to a fresh peer connection (the viewer's `restart`).
    Restarted {
        session_id: String,
        generation: u32,
    },
    /// An offer was refused (`auth_failed`, `busy`, `bad_request`, `privacy`).
    Refused {
        session_id: String,
        code: ErrorCode,
    },
    /// Privacy mode went on (open sessions were ended) or off.
    Privacy {
        on: bool,
    },
    Viewers(usize),
}

/// Why a session could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("GStreamer element {0} is missing")]
    MissingElement(String),
    #[error("live pipeline: {0}")]
    Pipeline(String),
}
