"""The decisions behind "in a call", with hand-written fakes: which streams count, the
Windows ConsentStore's reading, and what the tray and the engine are told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from presence_agent.calls import describe
from presence_agent.calls._linux import recording
from presence_agent.calls._windows import STORE, WindowsCalls, in_use
from presence_agent.events import IdleInhibit, Snapshot
from presence_agent.session._bridge import EngineBridge, held_by
from presence_agent.tray._model import tooltip
from presence_agent.vocab import Status


@dataclass
class Source:
    index: int
    monitor_of_sink: int | None = 0xFFFFFFFF


@dataclass
class Output:
    source: int
    name: str = "record stream"
    proplist: dict[str, str] = field(default_factory=dict)


def test_only_real_sources_count_not_monitors_or_meters() -> None:
    sources = [Source(0), Source(1, monitor_of_sink=0)]
    outputs = [
        Output(1, proplist={"application.name": "OBS"}),  # the speakers' monitor
        Output(0, proplist={"application.name": "pavucontrol", "media.name": "Peak detect"}),
    ]
    assert recording(outputs, sources) == []
    outputs.append(Output(0, proplist={"application.name": "Firefox"}))
    assert recording(outputs, sources) == ["Firefox"]


def registry(tree: dict[str, dict[str, Any]]) -> Any:
    def read(path: str) -> tuple[list[str], dict[str, Any]]:
        if path not in tree:
            raise FileNotFoundError(path)
        prefix = path + "\\"
        subkeys = sorted(
            {key[len(prefix) :].split("\\", 1)[0] for key in tree if key.startswith(prefix)}
        )
        return subkeys, tree[path]

    return read


MIC = f"{STORE}\\microphone"


def test_the_consent_store_says_who_uses_the_microphone_now() -> None:
    tree: dict[str, dict[str, Any]] = {
        MIC: {},
        f"{MIC}\\Microsoft.SkypeApp_kzf8qxf38zg5c": {
            "LastUsedTimeStart": 133_000,
            "LastUsedTimeStop": 133_100,
        },
        f"{MIC}\\NonPackaged": {},
        f"{MIC}\\NonPackaged\\C:#Program Files#Zoom#bin#Zoom.exe": {
            "LastUsedTimeStart": 133_200,
            "LastUsedTimeStop": 0,
        },
    }
    assert in_use("microphone", registry(tree)) == ["C:\\Program Files\\Zoom\\bin\\Zoom.exe"]
    tree[f"{MIC}\\NonPackaged\\C:#Program Files#Zoom#bin#Zoom.exe"]["LastUsedTimeStop"] = 133_300
    assert in_use("microphone", registry(tree)) == []
    assert in_use("webcam", registry(tree)) == []  # no such key: nothing uses it


def test_windows_reports_changes_only() -> None:
    tree: dict[str, dict[str, Any]] = {
        MIC: {},
        f"{MIC}\\Teams": {"LastUsedTimeStart": 5, "LastUsedTimeStop": 0},
    }
    heard: list[tuple[str, bool]] = []
    calls = WindowsCalls(read=registry(tree))
    calls._report = lambda device, active: heard.append((device, active))
    calls._read = registry(tree)
    calls.check()
    calls.check()
    tree[f"{MIC}\\Teams"]["LastUsedTimeStop"] = 9
    calls.check()
    assert heard == [("microphone", True), ("microphone", False)]


class Engine:
    def __init__(self) -> None:
        self.posted: list[object] = []

    def post(self, event: object) -> None:
        self.posted.append(event)

    def snapshot(self) -> Snapshot:
        return Snapshot()


def test_a_call_holds_idle_off_and_says_why() -> None:
    engine = Engine()
    bridge = EngineBridge(engine)  # type: ignore[arg-type]
    bridge.inhibited("microphone", True)
    bridge.inhibited("camera", True)
    bridge.inhibited("microphone", False)
    bridge.inhibited("camera", False)
    assert engine.posted == [
        IdleInhibit(True, "microphone in use"),
        IdleInhibit(True, "microphone and camera in use"),
        IdleInhibit(True, "camera in use"),
        IdleInhibit(False, ""),
    ]


def test_words_for_what_holds_idle_off() -> None:
    assert describe({"camera", "microphone"}) == "microphone and camera in use"
    assert held_by({"gnome"}) == "an app holds idle off (GNOME)"
    assert held_by({"gnome", "microphone"}) == "microphone in use"
    assert held_by(set()) == ""


def test_the_tooltip_says_in_a_call() -> None:
    snap = Snapshot(status=Status.AVAILABLE, connected=True, held_by="microphone in use")
    assert "In a call (microphone in use)" in tooltip(snap)


def test_a_tagstruct_is_walked_value_by_value() -> None:
    import struct

    import pytest

    from presence_agent.calls._pulse import _put_proplist, _put_string, _put_u32, _Reader

    data = _put_u32(7) + _put_string("record") + _put_string(None) + _put_proplist({"a": "b"})
    reader = _Reader(data + b"1")
    assert reader.u32() == 7
    assert reader.value() == (b"t", "record")
    assert reader.value() == (b"N", None)
    assert reader.value() == (b"P", {"a": "b"})
    assert reader.value() == (b"1", True)
    assert reader.done()
    with pytest.raises(ValueError, match="ends early"):
        _Reader(b"L" + struct.pack(">H", 1)).u32()
    with pytest.raises(ValueError, match="unknown tag"):
        _Reader(b"?").value()
