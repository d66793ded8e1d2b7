//! The camera cards' pictures: each card shows its camera's newest snapshot and keeps
//! showing the newest one.
//!
//! A card asks for its picture as it is built. The window looks again every
//! [`REFRESH`] while the camera list is on screen, when the list comes back from a live
//! view (whose snapshot button may just have kept one) and when the window is active
//! again (after the gallery, which asks the camera for a snapshot). A look costs one
//! listing request per camera; the snapshot is downloaded, opened (decrypted, if the
//! camera sealed it) and decoded only when the newest one is not the one shown, and all
//! of that runs on the runtime, the decoding on a blocking thread, so the main loop only
//! sets the texture. A device's recording keys ([`SnapshotOpener`]) are fetched once and
//! kept until a snapshot does not open with them (the camera rotated its key).
//!
//! ```text
//!  card built ──┐
//!  every 30 s ──┼─► newest snapshot (listing) ── the one shown? ──► nothing
//!  list shown ──┘            │ newer
//!                            ▼
//!      GET ─► open (keys kept per device) ─► decode (blocking) ─► GtkPicture
//! ```
//!
//! A list rebuilt (F5, a camera added) hands each card the picture its old card showed,
//! so refreshing never blanks a card.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_client::snapshot::SnapshotOpener;
use eyrie_protocol::api::Device;
use gtk::{gdk, glib};
use uuid::Uuid;

use super::EyrieWindow;
use crate::gui::cloud::{Cloud, CloudError};
use crate::spawn_tokio;

/// How often the cards look for a newer snapshot while the list is on screen.
pub const REFRESH: Duration = Duration::from_secs(30);

/// One card's picture: where it goes and which snapshot it shows.
#[derive(Debug)]
pub struct Thumbnail {
    picture: glib::WeakRef<gtk::Picture>,
    channel: Uuid,
    shown: Option<Uuid>,
    loading: bool,
}

/// Each device's snapshot keys, shared with the runtime's tasks.
pub type Openers = Arc<Mutex<HashMap<Uuid, SnapshotOpener>>>;

impl EyrieWindow {
    /// Look for newer snapshots on a timer while the list is on screen, and whenever the
    /// window is active again on the list (once, as the window is made).
    pub(super) fn keep_thumbnails_fresh(&self) {
        let weak = self.downgrade();
        glib::timeout_add_local(REFRESH, move || {
            let Some(window) = weak.upgrade() else {
                return glib::ControlFlow::Break;
            };
            if window.is_visible() {
                window.refresh_thumbnails();
            }
            glib::ControlFlow::Continue
        });
        self.connect_is_active_notify(|window| {
            if window.is_active() {
                window.refresh_thumbnails();
            }
        });
    }

    /// Give `picture` (a new card's) the newest snapshot of `device`: at once the one its
    /// previous card showed, then whatever is newer.
    pub(super) fn watch_thumbnail(&self, device: &Device, picture: &gtk::Picture) {
        let Some(channel) = crate::gui::cloud::main_channel(device) else {
            return;
        };
        let shown = {
            let mut map = self.imp().thumbnails.borrow_mut();
            let before = map.remove(&device.id);
            let kept = before.as_ref().and_then(|t| {
                let paintable = t.picture.upgrade()?.paintable()?;
                picture.set_paintable(Some(&paintable));
                t.shown
            });
            map.insert(
                device.id,
                Thumbnail {
                    picture: picture.downgrade(),
                    channel,
                    shown: kept,
                    loading: false,
                },
            );
            kept
        };
        if let Some(id) = shown {
            report(device.id, id, picture);
        }
        self.update_thumbnail(device.id);
    }

    /// Every card on the list looks for a newer snapshot (nothing while another page
    /// shows: the list is looked at again as it comes back).
    pub(super) fn refresh_thumbnails(&self) {
        if self.imp().stack.visible_child_name().as_deref() != Some("cameras") {
            return;
        }
        let ids: Vec<Uuid> = {
            let mut map = self.imp().thumbnails.borrow_mut();
            map.retain(|_, t| t.picture.upgrade().is_some());
            map.keys().copied().collect()
        };
        for id in ids {
            self.update_thumbnail(id);
        }
    }

    /// Forget every card's picture and the keys (signed out).
    pub(super) fn forget_thumbnails(&self) {
        self.imp().thumbnails.borrow_mut().clear();
        if let Ok(mut openers) = self.imp().snapshot_openers.lock() {
            openers.clear();
        }
    }

    fn update_thumbnail(&self, device: Uuid) {
        let Some(cloud) = self.cloud() else { return };
        let (channel, shown) = {
            let mut map = self.imp().thumbnails.borrow_mut();
            let Some(t) = map.get_mut(&device) else {
                return;
            };
            if t.loading {
                return;
            }
            t.loading = true;
            (t.channel, t.shown)
        };
        let openers = self.imp().snapshot_openers.clone();
        let handle =
            spawn_tokio!(
                async move { newer_picture(&cloud, &openers, device, channel, shown).await }
            );
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let result = handle.await;
                let mut map = window.imp().thumbnails.borrow_mut();
                let Some(t) = map.get_mut(&device) else {
                    return;
                };
                t.loading = false;
                match result {
                    Ok(Ok(Some((id, texture)))) => {
                        if let Some(picture) = t.picture.upgrade() {
                            picture.set_paintable(Some(&texture));
                            t.shown = Some(id);
                            report(device, id, &picture);
                        }
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::warn!(%device, "the camera's snapshot: {e}"),
                    Err(e) => tracing::error!("snapshot task failed: {e}"),
                }
            }
        ));
    }
}

/// The newest snapshot of `channel` decoded, unless it is `shown` or there is none.
async fn newer_picture(
    cloud: &Cloud,
    openers: &Openers,
    device: Uuid,
    channel: Uuid,
    shown: Option<Uuid>,
) -> Result<Option<(Uuid, gdk::Texture)>, CloudError> {
    let Some(newest) = cloud.snapshots(channel).await?.into_iter().next() else {
        return Ok(None);
    };
    if shown == Some(newest.id) {
        return Ok(None);
    }
    let kept = openers.lock().ok().and_then(|o| o.get(&device).cloned());
    let bytes = match kept {
        Some(opener) => match opener.open(&newest).await {
            // A key this installation did not have when it fetched them: fetch again.
            Err(eyrie_client::snapshot::SnapshotError::Undecryptable) => {
                fresh_opener(cloud, openers, device)
                    .await?
                    .open(&newest)
                    .await?
            }
            other => other?,
        },
        None => {
            fresh_opener(cloud, openers, device)
                .await?
                .open(&newest)
                .await?
        }
    };
    let texture = tokio::task::spawn_blocking(move || {
        gdk::Texture::from_bytes(&glib::Bytes::from_owned(bytes))
    })
    .await
    .map_err(|e| CloudError::Decode(e.to_string()))?
    .map_err(|e| CloudError::Decode(format!("not an image: {e}")))?;
    Ok(Some((newest.id, texture)))
}

async fn fresh_opener(
    cloud: &Cloud,
    openers: &Openers,
    device: Uuid,
) -> Result<SnapshotOpener, CloudError> {
    let opener = cloud.snapshot_opener(device).await?;
    if let Ok(mut map) = openers.lock() {
        map.insert(device, opener.clone());
    }
    Ok(opener)
}

fn report(device: Uuid, snapshot: Uuid, picture: &gtk::Picture) {
    let size = picture
        .paintable()
        .map(|p| [p.intrinsic_width(), p.intrinsic_height()]);
    crate::gui::test_hooks::report(
        "thumbnail",
        &serde_json::json!({ "device": device, "snapshot": snapshot, "size": size }),
    );
}
