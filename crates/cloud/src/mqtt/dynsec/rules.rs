//! The rights of `docs/signalling.md` § "Broker rights" written as dynamic-security roles,
//! and the command lists that keep them. Pure: every function returns the JSON commands
//! to send; [`super::DynSec`] sends them.
//!
//! | broker object | ACLs (all `allow`) |
//! |---|---|
//! | role `eyrie-device-D` | `publishClientSend`, `publishClientReceive`, `subscribePattern` on `eyrie/D/#` |
//! | role `eyrie-viewer-U` | `subscribePattern` + `publishClientReceive` on `eyrie/+/out/viewer-U`; per owned device D: `publishClientSend eyrie/D/in/viewer-U`, `subscribeLiteral` + `publishClientReceive eyrie/D/status` |
//! | client `D` | password from activation, role `eyrie-device-D` |
//! | client `viewer-U` | password handed out with tickets, role `eyrie-viewer-U` |
//!
//! Everything not granted is denied by the broker's default access (publish and
//! subscribe denied), so a viewer asking for `#` or another user's outbox is refused
//! and, in any case, delivered nothing.

use serde_json::{Value, json};
use uuid::Uuid;

/// Role of a device.
pub fn device_role(device: &Uuid) -> String {
    format!("eyrie-device-{device}")
}

/// Role of a user's viewers.
pub fn viewer_role(user: &Uuid) -> String {
    format!("eyrie-viewer-{user}")
}

/// Broker user name of a user's viewers.
pub fn viewer_name(user: &Uuid) -> String {
    format!("viewer-{user}")
}

fn acl(kind: &str, topic: &str) -> Value {
    json!({"acltype": kind, "topic": topic, "allow": true})
}

/// Deny what no role grants (the broker's own defaults allow receiving).
pub fn default_access() -> Value {
    json!({"command": "setDefaultACLAccess", "acls": [
        {"acltype": "publishClientSend", "allow": false},
        {"acltype": "publishClientReceive", "allow": false},
        {"acltype": "subscribe", "allow": false},
        {"acltype": "unsubscribe", "allow": true},
    ]})
}

/// The ACLs one owned device adds to its owner's viewer role.
fn owned_device_acls(user: &Uuid, device: &Uuid) -> Vec<Value> {
    let me = viewer_name(user);
    vec![
        acl("publishClientSend", &format!("eyrie/{device}/in/{me}")),
        acl("subscribeLiteral", &format!("eyrie/{device}/status")),
        acl("publishClientReceive", &format!("eyrie/{device}/status")),
    ]
}

/// Create the viewer role of `user` (fails harmlessly with "already exists").
pub fn create_viewer_role(user: &Uuid) -> Value {
    let out = format!("eyrie/+/out/{}", viewer_name(user));
    json!({"command": "createRole", "rolename": viewer_role(user), "acls": [
        acl("subscribePattern", &out),
        acl("publishClientReceive", &out),
    ]})
}

/// A device was activated for `owner` with broker password `password`: its role, its
/// client, and its owner's rights on it. The last command replaces the password of a
/// device activated before (which also disconnects the old login).
pub fn device_activated(device: &Uuid, owner: &Uuid, password: &str) -> Vec<Value> {
    let tree = format!("eyrie/{device}/#");
    let mut cmds = vec![
        json!({"command": "createRole", "rolename": device_role(device), "acls": [
            acl("publishClientSend", &tree),
            acl("publishClientReceive", &tree),
            acl("subscribePattern", &tree),
        ]}),
        json!({"command": "createClient", "username": device.to_string(), "password": password,
               "roles": [{"rolename": device_role(device)}]}),
        json!({"command": "setClientPassword", "username": device.to_string(), "password": password}),
        create_viewer_role(owner),
    ];
    for a in owned_device_acls(owner, device) {
        let mut c = a.clone();
        c["command"] = json!("addRoleACL");
        c["rolename"] = json!(viewer_role(owner));
        cmds.push(c);
    }
    cmds
}

/// A device was removed: its client (which disconnects it), its role, its owner's rights.
pub fn device_removed(device: &Uuid, owner: &Uuid) -> Vec<Value> {
    let mut cmds = vec![
        json!({"command": "deleteClient", "username": device.to_string()}),
        json!({"command": "deleteRole", "rolename": device_role(device)}),
    ];
    for a in owned_device_acls(owner, device) {
        cmds.push(
            json!({"command": "removeRoleACL", "rolename": viewer_role(owner),
                         "acltype": a["acltype"], "topic": a["topic"]}),
        );
    }
    cmds
}

/// Create the viewer client of `user` with `password`, its description holding
/// `description` (the sealed password and its expiry).
pub fn create_viewer(user: &Uuid, password: &str, description: &str) -> Vec<Value> {
    vec![
        create_viewer_role(user),
        json!({"command": "createClient", "username": viewer_name(user), "password": password,
               "textdescription": description, "roles": [{"rolename": viewer_role(user)}]}),
    ]
}

/// Give the existing viewer client of `user` a new password (this disconnects it).
pub fn rotate_viewer(user: &Uuid, password: &str, description: &str) -> Vec<Value> {
    vec![
        json!({"command": "modifyClient", "username": viewer_name(user), "password": password,
               "textdescription": description, "roles": [{"rolename": viewer_role(user)}]}),
    ]
}

/// Whether an error answer only says the wanted state is already there.
pub fn harmless(command: &str, error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    match command {
        "createRole" | "createClient" | "addRoleACL" => e.contains("already exists"),
        "deleteClient" | "deleteRole" | "removeRoleACL" => e.contains("not found"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_role_covers_its_tree_only() {
        let (d, u) = (Uuid::new_v4(), Uuid::new_v4());
        let cmds = device_activated(&d, &u, "pw");
        let text = serde_json::to_string(&cmds).unwrap();
        assert!(text.contains(&format!("eyrie/{d}/#")));
        assert!(!text.contains("\"eyrie/#\""));
        assert!(text.contains(&format!("eyrie/{d}/in/viewer-{u}")));
        assert!(text.contains(&format!("eyrie/+/out/viewer-{u}")));
        let removed = device_removed(&d, &u);
        assert_eq!(removed.len(), 5);
        assert_eq!(removed[0]["command"], "deleteClient");
    }

    #[test]
    fn only_already_there_errors_are_harmless() {
        assert!(harmless("createClient", "Client already exists"));
        assert!(harmless("deleteRole", "Role not found"));
        assert!(!harmless("createClient", "Internal error"));
        assert!(!harmless("setClientPassword", "Client not found"));
    }
}
