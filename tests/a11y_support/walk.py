#!/usr/bin/python3
"""Print the AT-SPI tree of one application as JSON lines, one per accessible object.

    walk.py PID [MAX_NODES]

Finds the application whose process id is PID on the accessibility bus (the one the
session bus's org.a11y.Bus hands out; at-spi-bus-launcher is started on demand) and walks
its tree depth first. Each line: {"id", "parent", "role", "name", "description",
"states"}, where id counts the objects in the order walked and parent is the id of the
object above (null for the application). Exits 2 when no such application is on the bus
(yet): the caller retries.

Called by tests/app_a11y.rs and tests/app_i18n.rs; uses Debian's gir1.2-atspi-2.0.
"""

import json
import sys

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

STATES = {
    Atspi.StateType.SHOWING: "showing",
    Atspi.StateType.VISIBLE: "visible",
    Atspi.StateType.SENSITIVE: "sensitive",
    Atspi.StateType.FOCUSABLE: "focusable",
    Atspi.StateType.FOCUSED: "focused",
    Atspi.StateType.CHECKED: "checked",
    Atspi.StateType.PRESSED: "pressed",
}


def find_app(pid):
    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is None:
            continue
        try:
            if app.get_process_id() == pid:
                return app
        except Exception:  # an application that left the bus meanwhile
            continue
    return None


def walk(app, limit):
    out = []
    stack = [(app, None)]
    while stack and len(out) < limit:
        node, parent = stack.pop()
        try:
            role = node.get_role_name()
            name = node.get_name() or ""
            description = node.get_description() or ""
            state_set = node.get_state_set()
            states = [s for k, s in STATES.items() if state_set.contains(k)]
            count = node.get_child_count()
        except Exception:  # a widget destroyed while we walk
            continue
        me = len(out)
        out.append(
            {
                "id": me,
                "parent": parent,
                "role": role,
                "name": name,
                "description": description,
                "states": states,
            }
        )
        children = []
        for i in range(count):
            try:
                child = node.get_child_at_index(i)
            except Exception:
                child = None
            if child is not None:
                children.append((child, me))
        stack.extend(reversed(children))
    return out


def main():
    pid = int(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    app = find_app(pid)
    if app is None:
        sys.exit(2)
    for node in walk(app, limit):
        print(json.dumps(node, ensure_ascii=False))


if __name__ == "__main__":
    main()
