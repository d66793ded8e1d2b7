//! The live stream's states and the one function that moves between them.
//!
//! Events reach the stream from two directions that do not wait for each other: the
//! engine's stage reports travel from the tokio runtime through a channel, while frames
//! reach the screen through `gtk4paintablesink`'s paintable on the main loop. A frame can
//! therefore arrive *before* the report that the stream is being retrieved. So the states
//! are ordered, and [`next`] only ever moves forward through the connecting stages: a stage
//! report never takes the stream out of [`StreamState::Playing`] (or any later state), nor
//! back to an earlier stage. Only a new attempt starts the stages again.
//!
//! ```text
//!           Attempt          Stage            Stage             Frame
//!  Idle ──────────► Asking ───────► Encrypted ───────► Retrieving ─────► Playing ◄─┐
//!   ▲               Permission       Channel            Video               │ Stale│Frame
//!   │ Stopped            └────────────┴── Frame ───────────┴──────────► ... ▼      │
//!   └───────────── any ◄── Failed ── Retrying (a new Attempt is scheduled) Stale ──┘
//!                                 └─ Failed (the person must try again)
//! ```

use gtk::glib;

use super::super::engine::Stage;

/// Where a live stream is, as its `state` property says.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, glib::Enum)]
#[enum_type(name = "EyrieLiveStreamState")]
pub enum StreamState {
    /// Not started, or stopped.
    #[default]
    Idle,
    /// Asking the cloud for a ticket.
    AskingPermission,
    /// Signalling and DTLS with the camera.
    EncryptedChannel,
    /// Connected; waiting for the first frame.
    RetrievingVideo,
    /// Frames reach the screen.
    Playing,
    /// Was playing, but no new frame came for a while (the watchdog says so).
    Stale,
    /// The attempt failed; a new one is scheduled.
    Retrying,
    /// The attempt failed; only the person can try again.
    Failed,
}

impl StreamState {
    /// The state a connecting stage stands for.
    pub fn of_stage(stage: Stage) -> Self {
        match stage {
            Stage::Ticket => Self::AskingPermission,
            Stage::EncryptedChannel => Self::EncryptedChannel,
            Stage::VideoStream => Self::RetrievingVideo,
        }
    }

    /// The connecting stage this state shows, if it is one.
    pub fn stage(self) -> Option<Stage> {
        match self {
            Self::AskingPermission => Some(Stage::Ticket),
            Self::EncryptedChannel => Some(Stage::EncryptedChannel),
            Self::RetrievingVideo => Some(Stage::VideoStream),
            _ => None,
        }
    }

    /// A connection attempt is under way and no frame has come yet (the spinner shows).
    pub fn is_connecting(self) -> bool {
        self.stage().is_some()
    }

    /// A picture is on screen (live or frozen).
    pub fn has_picture(self) -> bool {
        matches!(self, Self::Playing | Self::Stale)
    }

    /// A failure is shown.
    pub fn is_failed(self) -> bool {
        matches!(self, Self::Retrying | Self::Failed)
    }

    /// Order of the connecting stages; `None` outside them.
    fn rank(self) -> Option<u8> {
        self.stage().map(|s| s as u8)
    }
}

/// What moves a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A new connection attempt begins.
    Attempt,
    /// The engine reports a stage.
    Stage(Stage),
    /// A frame reached the screen (or the engine says the first one did).
    Frame,
    /// The watchdog saw no new frame for too long.
    NoFrame,
    /// The attempt failed; `retrying` when a new one is scheduled.
    Failed { retrying: bool },
    /// Stopped by its owner.
    Stopped,
}

/// The state after `input`, or `None` when `input` does not move the stream from `state`.
pub fn next(state: StreamState, input: Input) -> Option<StreamState> {
    use StreamState::*;
    match input {
        Input::Attempt => Some(AskingPermission),
        Input::Stage(stage) => {
            let to = StreamState::of_stage(stage);
            // Forward only, and only while connecting: never out of Playing.
            match (state.rank(), to.rank()) {
                (Some(from), Some(to_rank)) if to_rank > from => Some(to),
                _ => None,
            }
        }
        Input::Frame => (state.is_connecting() || state == Stale).then_some(Playing),
        Input::NoFrame => (state == Playing).then_some(Stale),
        Input::Failed { retrying } => {
            (state != Idle).then_some(if retrying { Retrying } else { Failed })
        }
        Input::Stopped => (state != Idle).then_some(Idle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(inputs: &[Input]) -> StreamState {
        inputs
            .iter()
            .fold(StreamState::Idle, |s, i| next(s, *i).unwrap_or(s))
    }

    #[test]
    fn stages_in_order_then_a_frame_play() {
        let s = run(&[
            Input::Attempt,
            Input::Stage(Stage::EncryptedChannel),
            Input::Stage(Stage::VideoStream),
        ]);
        assert_eq!(s, StreamState::RetrievingVideo);
        assert_eq!(next(s, Input::Frame), Some(StreamState::Playing));
    }

    #[test]
    fn a_late_stage_never_leaves_playing_nor_goes_back() {
        let playing = run(&[
            Input::Attempt,
            Input::Stage(Stage::EncryptedChannel),
            Input::Frame,
        ]);
        assert_eq!(playing, StreamState::Playing);
        for stage in [Stage::Ticket, Stage::EncryptedChannel, Stage::VideoStream] {
            assert_eq!(next(playing, Input::Stage(stage)), None, "{stage:?}");
            assert_eq!(next(StreamState::Stale, Input::Stage(stage)), None);
            assert_eq!(next(StreamState::Retrying, Input::Stage(stage)), None);
            assert_eq!(next(StreamState::Idle, Input::Stage(stage)), None);
        }
        let late = run(&[Input::Attempt, Input::Stage(Stage::VideoStream)]);
        assert_eq!(next(late, Input::Stage(Stage::EncryptedChannel)), None);
        assert_eq!(next(late, Input::Stage(Stage::VideoStream)), None);
    }

    #[test]
    fn failures_stale_pictures_and_new_attempts() {
        assert_eq!(next(StreamState::Idle, Input::Frame), None);
        assert_eq!(next(StreamState::Idle, Input::NoFrame), None);
        assert_eq!(
            next(StreamState::Playing, Input::NoFrame),
            Some(StreamState::Stale)
        );
        assert_eq!(
            next(StreamState::Stale, Input::Frame),
            Some(StreamState::Playing)
        );
        assert_eq!(
            next(StreamState::Playing, Input::Failed { retrying: true }),
            Some(StreamState::Retrying)
        );
        assert_eq!(
            next(
                StreamState::EncryptedChannel,
                Input::Failed { retrying: false }
            ),
            Some(StreamState::Failed)
        );
        assert_eq!(
            next(StreamState::Idle, Input::Failed { retrying: true }),
            None
        );
        assert_eq!(next(StreamState::Failed, Input::Frame), None);
        assert_eq!(
            next(StreamState::Retrying, Input::Attempt),
            Some(StreamState::AskingPermission)
        );
        assert_eq!(
            next(StreamState::Playing, Input::Stopped),
            Some(StreamState::Idle)
        );
    }
}
