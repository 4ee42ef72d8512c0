"""The yardstick for the cost per input event: pynput listeners doing nothing.

The same listeners the agent's pynput source installs (mouse and keyboard),
with empty callbacks. The benchmark runs it beside the agent and floods both
with the same input, so "agent CPU per event / this CPU per event" says what
the agent adds on top of pynput's own cost (ARCHITECTURE: about 40 µs per
mouse event in Xlib's RECORD listener alone).

Run by the benchmark; prints ``ready`` once both listeners receive events and
exits when its stdin closes.
"""

from __future__ import annotations

import sys
from typing import Any


def _nothing(*_event: Any) -> None:
    return None


def main() -> int:
    from pynput import keyboard, mouse

    listeners = [
        mouse.Listener(on_move=_nothing, on_click=_nothing, on_scroll=_nothing),
        keyboard.Listener(on_press=_nothing, on_release=_nothing),
    ]
    for listener in listeners:
        listener.start()
    for listener in listeners:
        listener.wait()
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    for listener in listeners:
        listener.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
