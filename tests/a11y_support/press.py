#!/usr/bin/python3
"""Press a button of an application the way a screen reader does: over AT-SPI, with the
button's first action ("click").

    press.py PID NAME

Finds the push button named NAME in the application whose process id is PID and does
its action. Exits 0 when pressed, 2 when no such button is showing (yet): the caller
retries. Uses Debian's gir1.2-atspi-2.0 through python3-gi, like walk.py.
"""

import sys

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

from walk import find_app  # noqa: E402


def find_button(node, name):
    stack = [node]
    while stack:
        n = stack.pop()
        try:
            if n.get_role_name() == "push button" and n.get_name() == name:
                return n
            stack.extend(
                c
                for c in (n.get_child_at_index(i) for i in range(n.get_child_count()))
                if c is not None
            )
        except Exception:  # a widget destroyed while we look
            continue
    return None


def main():
    pid, name = int(sys.argv[1]), sys.argv[2]
    app = find_app(pid)
    button = find_button(app, name) if app is not None else None
    if button is None:
        sys.exit(2)
    action = button.get_action_iface()
    if action is None or action.get_n_actions() < 1:
        sys.exit("the button has no AT-SPI action")
    if not action.do_action(0):
        sys.exit("the action failed")


if __name__ == "__main__":
    main()
