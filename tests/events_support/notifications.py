#!/usr/bin/python3
"""A desktop shell's notification server, for tests: owns org.gtk.Notifications (what
GNOME Shell serves, and what GLib's GApplication sends to when its owner is on the
session bus) and prints every call as one JSON line.

    notifications.py OUT

Writes {"ready": true} once the name is owned, then per AddNotification
{"method", "app_id", "id", "title", "body", "icon": {"type", "bytes", "head"} | null,
"default_action", "buttons"}, and per RemoveNotification {"method", "app_id", "id"}.
Uses Debian's python3-gi (Gio); runs until killed.
"""

import json
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

XML = """
<node>
  <interface name="org.gtk.Notifications">
    <method name="AddNotification">
      <arg type="s" direction="in"/>
      <arg type="s" direction="in"/>
      <arg type="a{sv}" direction="in"/>
    </method>
    <method name="RemoveNotification">
      <arg type="s" direction="in"/>
      <arg type="s" direction="in"/>
    </method>
  </interface>
</node>
"""

OUT = open(sys.argv[1], "a", encoding="utf-8")


def emit(obj):
    OUT.write(json.dumps(obj) + "\n")
    OUT.flush()


def text(n, key):
    v = n.lookup_value(key, None)
    return v.get_string() if v is not None else None


def icon(n):
    """A serialised GIcon: ('bytes', <ay>) for a GBytesIcon, ('themed', <as>) …"""
    v = n.lookup_value("icon", None)
    if v is None:
        return None
    kind = v.get_child_value(0).get_string()
    inner = v.get_child_value(1).get_variant()
    if kind == "bytes":
        data = bytes(inner.get_data_as_bytes().get_data())
        return {"type": kind, "bytes": len(data), "head": data[:4].hex()}
    return {"type": kind, "value": str(inner)}


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "AddNotification":
        app_id = params.get_child_value(0).get_string()
        nid = params.get_child_value(1).get_string()
        n = params.get_child_value(2)
        buttons = n.lookup_value("buttons", None)
        emit(
            {
                "method": method,
                "app_id": app_id,
                "id": nid,
                "title": text(n, "title"),
                "body": text(n, "body"),
                "icon": icon(n),
                "default_action": text(n, "default-action"),
                "buttons": buttons.n_children() if buttons is not None else 0,
            }
        )
    else:
        emit(
            {
                "method": method,
                "app_id": params.get_child_value(0).get_string(),
                "id": params.get_child_value(1).get_string(),
            }
        )
    invocation.return_value(None)


def main():
    info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
    conn = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    conn.register_object("/org/gtk/Notifications", info, on_call, None, None)
    loop = GLib.MainLoop()

    def acquired(*_):
        emit({"ready": True})

    def lost(*_):
        emit({"lost": True})
        loop.quit()

    Gio.bus_own_name_on_connection(
        conn, "org.gtk.Notifications", Gio.BusNameOwnerFlags.NONE, acquired, lost
    )
    loop.run()


if __name__ == "__main__":
    main()
