"""Tray icons: which one a snapshot shows, and drawing it with pillow from ``assets/``.

The artwork (``assets/tray-icons.toml``) is a handful of shapes on a 64-unit
grid. Each icon is drawn at the size the tray asks for, 4x supersampled and
then downscaled, so it is crisp from 16 to 64 px; finished images are cached,
so the hot path (a snapshot that changes nothing visible) draws nothing.

No display, no pystray: everything here is plain pillow and testable anywhere.
Thread use: :class:`Artwork` may be used from any one thread at a time (the
tray's UI thread); its cache is not locked.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageColor, ImageDraw

from presence_agent.events import Snapshot
from presence_agent.vocab import Status

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "ARTWORK_FILE",
    "SIZES",
    "Artwork",
    "ArtworkError",
    "IconKey",
    "IconState",
    "Theme",
    "detect_theme",
    "find_artwork",
    "icon_key",
]

ARTWORK_FILE = "tray-icons.toml"
#: The sizes the artwork is made for (tests draw every one).
SIZES = (16, 20, 22, 24, 32, 48, 64)
#: The artwork's grid.
GRID = 64.0
#: Drawing this many times larger and then downscaling gives anti-aliased edges.
SUPERSAMPLE = 4
#: Environment override for the panel kind: ``light`` or ``dark``.
ENV_THEME = "PRESENCE_AGENT_TRAY_THEME"


class IconState(str, enum.Enum):
    """What the icon shows. The values are the artwork's ``states`` keys."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    REASSIGNING = "away_and_reassigning"
    OFFLINE = "offline"
    #: Not connected (yet), the server cannot be reached, or signed out.
    DISCONNECTED = "disconnected"


class Theme(str, enum.Enum):
    """The kind of panel the icon sits on."""

    DARK = "dark"
    LIGHT = "light"


_BY_STATUS = {
    Status.AVAILABLE: IconState.AVAILABLE,
    Status.BUSY: IconState.BUSY,
    Status.AWAY: IconState.AWAY,
    Status.REASSIGNING: IconState.REASSIGNING,
    Status.OFFLINE: IconState.OFFLINE,
}


@dataclass(frozen=True)
class IconKey:
    """Everything an icon image depends on; equal keys mean the same pixels."""

    state: IconState
    idle: bool = False
    theme: Theme = Theme.DARK
    size: int = 32


def icon_key(snap: Snapshot, theme: Theme = Theme.DARK, size: int = 32) -> IconKey:
    """The icon for ``snap``: the status the server holds, not the one asked for.

    A status we cannot vouch for (signed out, never connected, the server
    failing) shows as disconnected: a stale green check would tell the person
    they are reachable when nobody can see them.
    """
    if snap.signed_out or not snap.connected or snap.status is None or snap.problem:
        return IconKey(IconState.DISCONNECTED, False, theme, size)
    idle = snap.by_idle and snap.status is Status.AWAY
    return IconKey(_BY_STATUS[snap.status], idle, theme, size)


def detect_theme(env: Mapping[str, str] | None = None, platform: str = sys.platform) -> Theme:
    """The panel kind (see presence_agent/tray/_theme.py, which this forwards to)."""
    from presence_agent.tray._theme import detect_theme as detect

    return detect(env, platform)


def windows_taskbar_is_light() -> bool:  # pragma: no cover - Windows only
    try:
        import winreg

        with winreg.OpenKey(  # type: ignore[attr-defined,unused-ignore]
            winreg.HKEY_CURRENT_USER,  # type: ignore[attr-defined,unused-ignore]
            r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize",
        ) as key:
            value, _ = winreg.QueryValueEx(key, "SystemUsesLightTheme")  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return False
    return bool(value)


# -- artwork --------------------------------------------------------------------------


class ArtworkError(Exception):
    """The artwork file is missing or wrong. The text names the file and the entry."""


def find_artwork() -> Path:
    """``assets/tray-icons.toml`` wherever this install keeps it.

    A wheel has ``presence_agent/assets``, a source checkout ``assets/`` beside
    the package, a PyInstaller build ``assets/`` in its unpack directory.
    """
    package = Path(__file__).resolve().parent.parent
    candidates = [package / "assets", package.parent / "assets"]
    bundle = getattr(sys, "_MEIPASS", None)
    if isinstance(bundle, str):
        candidates.insert(0, Path(bundle) / "assets")
    for assets in candidates:
        path = assets / ARTWORK_FILE
        if path.is_file():
            return path
    raise ArtworkError(
        f"tray artwork {ARTWORK_FILE} not found in {', '.join(map(str, candidates))}"
    )


@dataclass(frozen=True)
class _Shape:
    kind: str
    where: str
    centre: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.0
    points: tuple[tuple[float, float], ...] = ()
    width: float = 0.0
    fill: str = ""
    edge: str = ""
    edge_width: float = 0.0


_SHAPE_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required keys, optional keys)
    "disc": ({"centre", "radius", "fill"}, {"edge", "edge_width"}),
    "ring": ({"centre", "radius", "width", "colour"}, set()),
    "line": ({"points", "width", "colour"}, set()),
    "polygon": ({"points", "fill"}, {"edge", "edge_width"}),
    "erase": ({"centre", "radius"}, set()),
}


class Artwork:
    """The parsed artwork, and a cache of images drawn from it."""

    def __init__(
        self,
        states: Mapping[str, Sequence[_Shape]],
        marks: Mapping[str, Sequence[_Shape]],
        themes: Mapping[str, Mapping[str, str]],
    ) -> None:
        self._states = states
        self._marks = marks
        self._themes = themes
        self._cache: dict[IconKey, Image.Image] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> Artwork:
        """Read and check the artwork file (by default the installed one)."""
        path = find_artwork() if path is None else path
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ArtworkError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ArtworkError(f"{path}: not valid TOML: {exc}") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: Mapping[str, Any], name: str = "artwork") -> Artwork:
        themes: dict[str, dict[str, str]] = {}
        for theme in Theme:
            table = data.get("themes", {}).get(theme.value)
            if not isinstance(table, dict):
                raise ArtworkError(f"{name}: missing [themes.{theme.value}]")
            themes[theme.value] = {str(k): str(v) for k, v in table.items()}
        states = {
            state.value: _parse_shapes(data, "states", state.value, name, themes)
            for state in IconState
        }
        marks = {"idle": _parse_shapes(data, "marks", "idle", name, themes)}
        return cls(states, marks, themes)

    def render(self, key: IconKey) -> Image.Image:
        """The RGBA image for ``key``, ``key.size`` pixels square. Cached: do not modify it."""
        image = self._cache.get(key)
        if image is None:
            image = self._draw(key)
            self._cache[key] = image
        return image

    def _draw(self, key: IconKey) -> Image.Image:
        if not 8 <= key.size <= 512:
            raise ValueError(f"icon size {key.size} is out of range (8..512)")
        big = key.size * SUPERSAMPLE
        scale = big / GRID
        canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
        shapes = list(self._states[key.state.value])
        if key.idle:
            shapes += self._marks["idle"]
        colours = self._themes[key.theme.value]
        for shape in shapes:
            canvas = _draw_shape(canvas, shape, scale, colours)
        # Downscale with premultiplied alpha, or transparent pixels' colour
        # would bleed into the edges as a dark fringe.
        small = canvas.convert("RGBa").resize((key.size, key.size), Image.Resampling.LANCZOS)
        return small.convert("RGBA")


def _parse_shapes(
    data: Mapping[str, Any],
    section: str,
    name: str,
    source: str,
    themes: Mapping[str, Mapping[str, str]],
) -> tuple[_Shape, ...]:
    entries = data.get(section, {}).get(name)
    if not isinstance(entries, list) or not entries:
        raise ArtworkError(f"{source}: missing [[{section}.{name}]] shapes")
    shapes = []
    for index, entry in enumerate(entries):
        where = f"{source}: {section}.{name}[{index}]"
        if not isinstance(entry, dict):
            raise ArtworkError(f"{where}: not a table")
        kind = entry.get("shape")
        if kind not in _SHAPE_KEYS:
            raise ArtworkError(f"{where}: unknown shape {kind!r} (use {', '.join(_SHAPE_KEYS)})")
        required, optional = _SHAPE_KEYS[kind]
        keys = set(entry) - {"shape"}
        if missing := required - keys:
            raise ArtworkError(f"{where}: {kind} needs {', '.join(sorted(missing))}")
        if unknown := keys - required - optional:
            raise ArtworkError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        shape = _Shape(
            kind=kind,
            where=where,
            centre=_point(entry["centre"], where) if "centre" in entry else (0.0, 0.0),
            radius=_number(entry.get("radius", 0.0), where),
            points=tuple(_point(p, where) for p in entry.get("points", ())),
            width=_number(entry.get("width", 0.0), where),
            fill=str(entry.get("fill", entry.get("colour", ""))),
            edge=str(entry.get("edge", "")),
            edge_width=_number(entry.get("edge_width", 0.0), where),
        )
        for colour in (shape.fill, shape.edge):
            if colour:
                for theme in themes.values():
                    _colour(colour, theme, where)
        if kind in ("line", "polygon") and len(shape.points) < 2:
            raise ArtworkError(f"{where}: {kind} needs at least two points")
        shapes.append(shape)
    return tuple(shapes)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArtworkError(f"{where}: {value!r} is not a number")
    return float(value)


def _point(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ArtworkError(f"{where}: {value!r} is not a point [x, y]")
    return _number(value[0], where), _number(value[1], where)


def _colour(name: str, theme: Mapping[str, str], where: str) -> tuple[int, int, int, int]:
    value = theme.get(name, name)
    try:
        rgba = ImageColor.getcolor(value, "RGBA")
    except ValueError:
        raise ArtworkError(f"{where}: {name!r} is neither a colour nor a theme colour") from None
    assert isinstance(rgba, tuple)
    return (rgba[0], rgba[1], rgba[2], rgba[3])


def _draw_shape(
    canvas: Image.Image, shape: _Shape, scale: float, theme: Mapping[str, str]
) -> Image.Image:
    if shape.kind == "erase":
        alpha = canvas.getchannel("A")
        ImageDraw.Draw(alpha).ellipse(_box(shape.centre, shape.radius, scale), fill=0)
        canvas.putalpha(alpha)
        return canvas
    # Each shape on its own layer, composited: correct for colours with alpha.
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    fill = _colour(shape.fill, theme, shape.where) if shape.fill else None
    edge = _colour(shape.edge, theme, shape.where) if shape.edge else None
    if shape.kind == "disc":
        if edge is not None and shape.edge_width > 0:
            draw.ellipse(_box(shape.centre, shape.radius, scale), fill=edge)
            inner = shape.radius - shape.edge_width
            draw.ellipse(_box(shape.centre, inner, scale), fill=fill)
        else:
            draw.ellipse(_box(shape.centre, shape.radius, scale), fill=fill)
    elif shape.kind == "ring":
        outer = shape.radius + shape.width / 2
        draw.ellipse(
            _box(shape.centre, outer, scale), outline=fill, width=round(shape.width * scale)
        )
    elif shape.kind == "line":
        _stroke(draw, shape.points, shape.width * scale, scale, fill, closed=False)
    elif shape.kind == "polygon":
        points = [(x * scale, y * scale) for x, y in shape.points]
        draw.polygon(points, fill=fill)
        if edge is not None and shape.edge_width > 0:
            _stroke(draw, shape.points, shape.edge_width * scale, scale, edge, closed=True)
    return Image.alpha_composite(canvas, layer)


def _stroke(
    draw: ImageDraw.ImageDraw,
    grid_points: Sequence[tuple[float, float]],
    width: float,
    scale: float,
    colour: tuple[int, int, int, int] | None,
    *,
    closed: bool,
) -> None:
    """A polyline with round caps and joins (pillow's own line has square ends)."""
    points = [(x * scale, y * scale) for x, y in grid_points]
    if closed:
        points.append(points[0])
    draw.line(points, fill=colour, width=max(1, round(width)), joint="curve")
    r = width / 2
    for x, y in points:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)


def _box(
    centre: tuple[float, float], radius: float, scale: float
) -> tuple[float, float, float, float]:
    x, y = centre
    return ((x - radius) * scale, (y - radius) * scale, (x + radius) * scale, (y + radius) * scale)
