//! `EyrieGallery`: the snapshots of one camera, from the cloud's presigned GETs.
//!
//! The list and the images are fetched on the tokio runtime; each tile can be opened
//! (full size in a window), saved to a file or deleted.

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_protocol::api::{Device, Snapshot};
use gtk::{gdk, gio, glib};

use super::cloud::{self, Cloud};
use super::test_hooks;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;

mod imp {
    use std::cell::{OnceCell, RefCell};

    use super::*;

    #[derive(Default)]
    pub struct EyrieGallery {
        pub cloud: OnceCell<Cloud>,
        pub device: RefCell<Option<Device>>,
        pub stack: OnceCell<gtk::Stack>,
        pub flowbox: OnceCell<gtk::FlowBox>,
        pub toasts: OnceCell<adw::ToastOverlay>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieGallery {
        const NAME: &'static str = "EyrieGallery";
        type Type = super::EyrieGallery;
        type ParentType = adw::Window;
    }

    impl ObjectImpl for EyrieGallery {}
    impl WidgetImpl for EyrieGallery {}
    impl WindowImpl for EyrieGallery {}
    impl AdwWindowImpl for EyrieGallery {}
}

glib::wrapper! {
    pub struct EyrieGallery(ObjectSubclass<imp::EyrieGallery>)
        @extends adw::Window, gtk::Window, gtk::Widget,
        @implements gtk::Accessible, gtk::Buildable, gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

impl EyrieGallery {
    pub fn new(parent: &impl IsA<gtk::Window>, cloud: Cloud, device: &Device) -> Self {
        let gallery: Self = glib::Object::builder()
            .property("transient-for", parent)
            .property("default-width", 720)
            .property("default-height", 520)
            .property(
                "title",
                gettext_f("Snapshots of {name}", &[("name", &device.name)]),
            )
            .build();
        let imp = gallery.imp();
        let _ = imp.cloud.set(cloud);
        imp.device.replace(Some(device.clone()));

        let header = adw::HeaderBar::new();
        let refresh = gtk::Button::from_icon_name("view-refresh-symbolic");
        refresh.set_tooltip_text(Some(&gettext("Refresh")));
        refresh.connect_clicked(glib::clone!(
            #[weak]
            gallery,
            move |_| gallery.reload()
        ));
        header.pack_start(&refresh);
        let ask = gtk::Button::from_icon_name("camera-photo-symbolic");
        ask.set_tooltip_text(Some(&gettext("Ask the Camera for a Snapshot")));
        ask.update_property(&[gtk::accessible::Property::Label(&gettext(
            "Ask the Camera for a Snapshot",
        ))]);
        ask.connect_clicked(glib::clone!(
            #[weak]
            gallery,
            move |button| gallery.ask_camera(button)
        ));
        header.pack_start(&ask);

        let flowbox = gtk::FlowBox::builder()
            .valign(gtk::Align::Start)
            .homogeneous(true)
            .min_children_per_line(1)
            .max_children_per_line(4)
            .column_spacing(12)
            .row_spacing(12)
            .margin_top(12)
            .margin_bottom(12)
            .margin_start(12)
            .margin_end(12)
            .selection_mode(gtk::SelectionMode::None)
            .build();
        let scrolled = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .child(&flowbox)
            .build();
        let empty = adw::StatusPage::builder()
            .icon_name("camera-photo-symbolic")
            .title(gettext("No Snapshots"))
            .description(gettext(
                "Take one from the live view with the camera button",
            ))
            .build();
        let error = adw::StatusPage::builder()
            .icon_name("network-error-symbolic")
            .title(gettext("Cannot Load Snapshots"))
            .build();
        let spinner = gtk::Spinner::builder()
            .spinning(true)
            .halign(gtk::Align::Center)
            .valign(gtk::Align::Center)
            .build();
        let stack = gtk::Stack::new();
        stack.add_named(&spinner, Some("loading"));
        stack.add_named(&empty, Some("empty"));
        stack.add_named(&error, Some("error"));
        stack.add_named(&scrolled, Some("list"));
        stack.set_vexpand(true);
        let toasts = adw::ToastOverlay::new();
        toasts.set_child(Some(&stack));
        let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
        content.append(&header);
        content.append(&toasts);
        gallery.set_content(Some(&content));
        let _ = imp.stack.set(stack);
        let _ = imp.flowbox.set(flowbox);
        let _ = imp.toasts.set(toasts);
        gallery.reload();
        gallery
    }

    fn toast(&self, message: &str) {
        if let Some(t) = self.imp().toasts.get() {
            t.add_toast(adw::Toast::new(message));
        }
    }

    /// Ask the camera (through the cloud) for a fresh snapshot, then look for it every
    /// 2 s for up to 30 s (the camera hears of the request on its next heartbeat).
    fn ask_camera(&self, button: &gtk::Button) {
        let Some((cloud, device, channel)) = self.shown() else {
            return;
        };
        button.set_sensitive(false);
        let handle = spawn_tokio!(async move {
            let asked = cloud.request_snapshot(device.id).await?;
            for _ in 0..15 {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                let snaps = cloud.snapshots(channel).await?;
                if snaps.iter().any(|s| s.taken_at_ms >= asked) {
                    return Ok(true);
                }
            }
            Ok::<_, cloud::CloudError>(false)
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = gallery)]
            self,
            #[weak]
            button,
            async move {
                let outcome = handle.await;
                button.set_sensitive(true);
                match outcome {
                    Ok(Ok(true)) => gallery.reload(),
                    Ok(Ok(false)) => gallery.toast(&gettext(
                        "The camera did not send a snapshot; it may be in privacy mode",
                    )),
                    Ok(Err(e)) => gallery.toast(&e.user_message()),
                    Err(e) => tracing::error!("snapshot request task failed: {e}"),
                }
            }
        ));
        self.toast(&gettext("Asked the camera for a snapshot…"));
    }

    /// The session, the camera shown and its main channel, once the gallery has them.
    fn shown(&self) -> Option<(Cloud, Device, uuid::Uuid)> {
        let imp = self.imp();
        let cloud = imp.cloud.get().cloned()?;
        let device = imp.device.borrow().clone()?;
        let channel = cloud::main_channel(&device)?;
        Some((cloud, device, channel))
    }

    fn reload(&self) {
        let Some((cloud, device, channel)) = self.shown() else {
            return;
        };
        let device_id = device.id;
        let handle = spawn_tokio!(async move {
            let snaps = cloud.snapshots(channel).await?;
            let opener = cloud.snapshot_opener(device_id).await?;
            let mut out = Vec::new();
            for s in snaps.into_iter().take(48) {
                let bytes = match opener.open(&s).await {
                    Ok(b) => Some(b),
                    Err(e) => {
                        tracing::warn!(snapshot = %s.id, "cannot open snapshot: {e}");
                        None
                    }
                };
                out.push((s, bytes));
            }
            Ok::<_, cloud::CloudError>(out)
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = gallery)]
            self,
            async move {
                let imp = gallery.imp();
                let (Some(stack), Some(flowbox)) = (imp.stack.get(), imp.flowbox.get()) else {
                    return;
                };
                match handle.await {
                    Ok(Ok(items)) => {
                        while let Some(c) = flowbox.first_child() {
                            flowbox.remove(&c);
                        }
                        test_hooks::report(
                            "gallery",
                            &serde_json::json!({ "snapshots": items.iter().map(|(s, b)| serde_json::json!({"id": s.id, "bytes": b.as_ref().map(Vec::len)})).collect::<Vec<_>>() }),
                        );
                        if items.is_empty() {
                            stack.set_visible_child_name("empty");
                            return;
                        }
                        for (snapshot, bytes) in items {
                            flowbox.append(&gallery.tile(&snapshot, bytes));
                        }
                        stack.set_visible_child_name("list");
                    }
                    Ok(Err(e)) => {
                        if let Some(page) = stack
                            .child_by_name("error")
                            .and_downcast::<adw::StatusPage>()
                        {
                            page.set_description(Some(&e.user_message()));
                        }
                        stack.set_visible_child_name("error");
                    }
                    Err(e) => tracing::error!("gallery task failed: {e}"),
                }
            }
        ));
    }

    fn tile(&self, snapshot: &Snapshot, bytes: Option<Vec<u8>>) -> gtk::Widget {
        let when = glib::DateTime::from_unix_local(snapshot.taken_at_ms / 1000)
            .and_then(|d| d.format("%x %X"))
            .map(|s| s.to_string())
            .unwrap_or_default();
        let picture = gtk::Picture::builder()
            .content_fit(gtk::ContentFit::Cover)
            .height_request(140)
            .build();
        picture.set_alternative_text(Some(&gettext_f(
            "Snapshot taken {when}",
            &[("when", &when)],
        )));
        let texture = bytes
            .as_ref()
            .and_then(|b| gdk::Texture::from_bytes(&glib::Bytes::from(b)).ok());
        if let Some(t) = &texture {
            picture.set_paintable(Some(t));
        }
        let label = gtk::Label::builder()
            .label(&when)
            .xalign(0.0)
            .hexpand(true)
            .build();
        label.add_css_class("caption");
        let save = gtk::Button::from_icon_name("document-save-symbolic");
        save.set_tooltip_text(Some(&gettext("Save to a File")));
        save.add_css_class("flat");
        let delete = gtk::Button::from_icon_name("user-trash-symbolic");
        delete.set_tooltip_text(Some(&gettext("Delete")));
        delete.add_css_class("flat");
        let open = gtk::Button::builder().child(&picture).build();
        open.add_css_class("flat");
        open.set_tooltip_text(Some(&gettext("Open")));
        let row = gtk::Box::new(gtk::Orientation::Horizontal, 6);
        row.set_margin_start(6);
        row.append(&label);
        row.append(&save);
        row.append(&delete);
        let card = gtk::Box::new(gtk::Orientation::Vertical, 0);
        card.add_css_class("card");
        card.set_overflow(gtk::Overflow::Hidden);
        card.append(&open);
        card.append(&row);

        let bytes = bytes.unwrap_or_default();
        open.connect_clicked(glib::clone!(
            #[weak(rename_to = gallery)]
            self,
            #[strong]
            texture,
            move |_| gallery.open_full(texture.as_ref())
        ));
        save.connect_clicked(glib::clone!(
            #[weak(rename_to = gallery)]
            self,
            move |_| gallery.save(bytes.clone())
        ));
        let id = snapshot.id;
        delete.connect_clicked(glib::clone!(
            #[weak(rename_to = gallery)]
            self,
            move |_| gallery.delete(id)
        ));
        card.upcast()
    }

    fn open_full(&self, texture: Option<&gdk::Texture>) {
        let Some(texture) = texture else { return };
        let picture = gtk::Picture::for_paintable(texture);
        let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
        content.append(&adw::HeaderBar::new());
        picture.set_vexpand(true);
        content.append(&picture);
        let window = adw::Window::builder()
            .transient_for(self)
            .modal(true)
            .title(gettext("Snapshot"))
            .default_width(texture.width().min(1280))
            .default_height(texture.height().min(800) + 48)
            .content(&content)
            .build();
        window.present();
    }

    fn save(&self, png: Vec<u8>) {
        save_png_with_chooser(
            Some(self.upcast_ref()),
            "snapshot.png",
            png,
            glib::clone!(
                #[weak(rename_to = gallery)]
                self,
                move |message| gallery.toast(&message)
            ),
        );
    }

    fn delete(&self, id: uuid::Uuid) {
        let Some(cloud) = self.imp().cloud.get().cloned() else {
            return;
        };
        let handle = spawn_tokio!(async move { cloud.delete_snapshot(id).await });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = gallery)]
            self,
            async move {
                match handle.await {
                    Ok(Ok(())) => {
                        gallery.toast(&gettext("Snapshot deleted"));
                        gallery.reload();
                    }
                    Ok(Err(e)) => gallery.toast(&e.user_message()),
                    Err(e) => gallery.toast(&e.to_string()),
                }
            }
        ));
    }
}

/// Ask where to save a PNG (suggesting `name`), write it there, and say how it went
/// through `tell` (a translated message for a toast). Shared by the gallery and live view.
pub(crate) fn save_png_with_chooser(
    parent: Option<&gtk::Window>,
    name: &str,
    png: Vec<u8>,
    tell: impl Fn(String) + Clone + 'static,
) {
    let chooser = gtk::FileChooserNative::new(
        Some(&gettext("Save Snapshot")),
        parent,
        gtk::FileChooserAction::Save,
        Some(&gettext("_Save")),
        Some(&gettext("_Cancel")),
    );
    chooser.set_current_name(name);
    // The native chooser is not owned by any widget: keep it alive until it answers.
    let keep = std::rc::Rc::new(std::cell::RefCell::new(Some(chooser.clone())));
    chooser.connect_response(move |chooser, response| {
        keep.borrow_mut().take();
        if response != gtk::ResponseType::Accept {
            return;
        }
        let Some(file) = chooser.file() else { return };
        let png = png.clone();
        let tell = tell.clone();
        glib::spawn_future_local(async move {
            match file
                .replace_contents_future(png, None, false, gio::FileCreateFlags::NONE)
                .await
            {
                Ok(_) => tell(gettext("Snapshot saved to a file")),
                Err((_, e)) => tell(e.to_string()),
            }
        });
    });
    chooser.show();
}
