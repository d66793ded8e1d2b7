//! The stream object driven by events in the orders they really arrive in, without an
//! engine: what its properties say is what the views show.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;

fn stream() -> EyrieLiveStream {
    let session = Session {
        server: "http://127.0.0.1:9".into(),
        email: "a@example.org".into(),
        token: "t".into(),
    };
    let device = Device {
        id: uuid::Uuid::from_u128(1),
        name: "Hall".into(),
        store_mode: Default::default(),
        activated: true,
        online: true,
        last_seen_ms: None,
        dropped_segments: 0,
        channels: vec![],
        created_ms: 0,
    };
    EyrieLiveStream::new(session, device, Quality::Sd, Policy::live_view())
}

/// Enter the first stage as `connect()` does, without starting an engine.
fn attempt(stream: &EyrieLiveStream) {
    stream.apply(Input::Attempt);
}

#[test]
fn a_first_frame_before_the_retrieving_stage_leaves_no_spinner_and_says_live() {
    let stream = stream();
    let heard = Rc::new(RefCell::new(Vec::new()));
    stream.connect_closure(
        "stage-reached",
        false,
        glib::closure_local!(
            #[strong]
            heard,
            move |_: EyrieLiveStream, stage: Stage, shown: bool| heard
                .borrow_mut()
                .push((stage, shown))
        ),
    );
    attempt(&stream);
    assert_eq!(stream.state(), StreamState::AskingPermission);
    assert!(stream.spinning());
    assert_eq!(stream.subtitle(), "Asking the cloud for permission");
    stream.handle_event(LiveEvent::Stage(Stage::EncryptedChannel));
    assert_eq!(stream.state(), StreamState::EncryptedChannel);
    assert_eq!(stream.stage_text(), "Establishing an encrypted channel");

    // The paintable's first frame comes before the engine's report travels the channel.
    stream.frame_arrived();
    assert_eq!(stream.state(), StreamState::Playing);
    stream.handle_event(LiveEvent::Stage(Stage::VideoStream));
    stream.handle_event(LiveEvent::Playing);
    stream.frame_arrived();

    assert_eq!(stream.state(), StreamState::Playing);
    assert!(!stream.spinning(), "the spinner stays over the picture");
    assert_eq!(stream.stage_text(), "");
    assert_eq!(stream.subtitle(), "Live", "the header keeps the stage");
    assert_eq!(
        *heard.borrow(),
        [(Stage::EncryptedChannel, true), (Stage::VideoStream, false)]
    );
}

#[test]
fn stages_in_order_show_the_spinner_until_the_first_frame() {
    let stream = stream();
    let spinning = Rc::new(RefCell::new(Vec::new()));
    stream.connect_spinning_notify(glib::clone!(
        #[strong]
        spinning,
        move |s| spinning.borrow_mut().push(s.spinning())
    ));
    attempt(&stream);
    for stage in [Stage::EncryptedChannel, Stage::VideoStream] {
        stream.handle_event(LiveEvent::Stage(stage));
        assert!(stream.spinning());
        assert_eq!(stream.subtitle(), stage.text());
    }
    assert_eq!(stream.state(), StreamState::RetrievingVideo);
    stream.handle_event(LiveEvent::Playing);
    assert_eq!(stream.state(), StreamState::Playing);
    assert_eq!(stream.subtitle(), "Live");
    // One change on, one off: no flicker through the stages.
    assert_eq!(*spinning.borrow(), [true, false]);

    stream.handle_event(LiveEvent::Signalling(false));
    assert_eq!(stream.subtitle(), "Live, reconnecting to the cloud…");
    stream.handle_event(LiveEvent::Signalling(true));
    assert_eq!(stream.subtitle(), "Live");

    // Once the engine knows the way the media goes, the header says it.
    stream.handle_event(LiveEvent::Path { relayed: false });
    assert_eq!(stream.subtitle(), "Live · Direct");
    stream.handle_event(LiveEvent::Path { relayed: true });
    assert_eq!(stream.subtitle(), "Live · Relayed");

    // The network changed under the session: the last picture stays, the header says
    // so, and the first frame of the renegotiated connection makes it live again.
    stream.handle_event(LiveEvent::Reconnecting);
    assert_eq!(stream.subtitle(), "Reconnecting…");
    assert_eq!(stream.state(), StreamState::Playing);
    assert!(!stream.spinning(), "no spinner over the last picture");
    stream.handle_event(LiveEvent::Signalling(false));
    assert_eq!(stream.subtitle(), "Reconnecting…", "the one thing to say");
    stream.handle_event(LiveEvent::Signalling(true));
    stream.handle_event(LiveEvent::Playing);
    assert_eq!(stream.subtitle(), "Live · Relayed");
    stream.handle_event(LiveEvent::Path { relayed: false });
    assert_eq!(stream.subtitle(), "Live · Direct");
}

#[test]
fn a_failure_waiting_can_cure_is_explained_and_retried_a_refused_ticket_is_not() {
    let stream = stream();
    attempt(&stream);
    stream.handle_event(LiveEvent::Failed(Failure::AuthFailed));
    assert_eq!(stream.state(), StreamState::Failed);
    assert!(!stream.spinning());
    assert_eq!(stream.error_title(), "Authentication Failed");
    assert_eq!(stream.subtitle(), "Authentication Failed");
    assert!(!stream.error_description().contains("Trying again"));
    assert_eq!(stream.error_icon_name(), "dialog-password-symbolic");
    assert!(stream.paintable().is_none());

    // A late stage of the failed attempt changes nothing.
    stream.handle_event(LiveEvent::Stage(Stage::VideoStream));
    assert_eq!(stream.state(), StreamState::Failed);

    // A running stream (as after start(), here without an engine) retries what waiting
    // can cure, and says when.
    let context = glib::MainContext::default();
    let _owner = context.acquire().expect("the default main context");
    stream.imp().conn.running.set(true);
    attempt(&stream);
    stream.handle_event(LiveEvent::Failed(Failure::Offline));
    assert_eq!(stream.state(), StreamState::Retrying);
    assert_eq!(stream.subtitle(), "Camera Offline");
    assert!(
        stream
            .error_description()
            .ends_with("\nTrying again in 1 s"),
        "{}",
        stream.error_description()
    );
    assert!(stream.imp().conn.retry.borrow().is_some());
    assert_eq!(stream.imp().conn.attempt.get(), 1);

    let policy = Policy::live_view();
    assert_eq!(
        (policy.retry)(0, &Failure::Offline),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        (policy.retry)(3, &Failure::Offline),
        Some(Duration::from_secs(8))
    );
    assert_eq!(
        (policy.retry)(9, &Failure::Ended),
        Some(Duration::from_secs(30))
    );
    assert_eq!((policy.retry)(0, &Failure::AuthFailed), None);

    stream.stop();
    assert!(
        stream.imp().conn.retry.borrow().is_none(),
        "stop ends the retry"
    );
    assert_eq!(stream.state(), StreamState::Idle);
    assert_eq!(stream.subtitle(), "");
    assert_eq!(stream.error_title(), "");
}
