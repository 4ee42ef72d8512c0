"""The tray icons: drawn from assets/tray-icons.toml with pillow, no display needed."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from presence_agent.events import Snapshot
from presence_agent.policy import Why
from presence_agent.tray._icons import (
    ENV_THEME,
    SIZES,
    Artwork,
    ArtworkError,
    IconKey,
    IconState,
    Theme,
    detect_theme,
    find_artwork,
    icon_key,
)
from presence_agent.vocab import Dialect, Status

#: Every distinct look: each state, plus away with the idle mark.
LOOKS = [(state, False) for state in IconState] + [(IconState.AWAY, True)]


@pytest.fixture(scope="module")
def artwork() -> Artwork:
    return Artwork.load()


def _on(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """The icon as the tray shows it: composited on a panel colour."""
    panel = Image.new("RGBA", image.size, (*background, 255))
    return Image.alpha_composite(panel, image).convert("RGB")


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / len(a.getbands())


def _share_near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> float:
    raw = image.convert("RGB").tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    near = sum(
        1 for p in pixels if all(abs(c - w) <= tolerance for c, w in zip(p, colour, strict=True))
    )
    return near / len(pixels)


def test_the_installed_artwork_is_found_next_to_the_package() -> None:
    path = find_artwork()
    assert path.name == "tray-icons.toml"
    assert path.parent.name == "assets"


@pytest.mark.parametrize("theme", list(Theme))
@pytest.mark.parametrize("size", SIZES)
def test_every_look_renders_at_every_size_with_transparent_corners(
    artwork: Artwork, theme: Theme, size: int
) -> None:
    for state, idle in LOOKS:
        image = artwork.render(IconKey(state, idle, theme, size))
        assert image.mode == "RGBA"
        assert image.size == (size, size)
        alpha = image.getchannel("A")
        # Not a blank square, not a filled square: a shape on a transparent ground.
        assert alpha.getpixel((0, 0)) == 0
        assert alpha.getpixel((size - 1, 0)) == 0
        assert 0.15 < ImageStat.Stat(alpha).mean[0] / 255 < 0.9, (state, idle, size)


@pytest.mark.parametrize("theme", list(Theme))
@pytest.mark.parametrize("size", [16, 22, 32, 64])
def test_looks_differ_in_colour_and_in_shape(artwork: Artwork, theme: Theme, size: int) -> None:
    """Distinct in colour, and still distinct in greyscale: shape carries the meaning too."""
    background = (48, 48, 48) if theme is Theme.DARK else (236, 236, 236)
    images = {
        look: _on(artwork.render(IconKey(look[0], look[1], theme, size)), background)
        for look in LOOKS
    }
    for (look_a, a), (look_b, b) in itertools.combinations(images.items(), 2):
        assert _difference(a, b) > 8, (look_a, look_b)
        grey_a, grey_b = a.convert("L"), b.convert("L")
        # Equalise brightness first, so only the shapes are compared.
        shift = ImageStat.Stat(grey_a).mean[0] - ImageStat.Stat(grey_b).mean[0]
        grey_b = grey_b.point(lambda v, s=shift: max(0, min(255, round(v + s))))
        assert _difference(grey_a, grey_b) > 6, ("greyscale", look_a, look_b)


def test_status_colours_are_the_colour_blind_safe_palette(artwork: Artwork) -> None:
    expected = {
        IconState.AVAILABLE: (0x00, 0x9E, 0x73),  # Okabe-Ito bluish green
        IconState.BUSY: (0xD5, 0x5E, 0x00),  # vermillion
        IconState.AWAY: (0xE6, 0x9F, 0x00),  # orange
        IconState.DISCONNECTED: (0xCC, 0x79, 0xA7),  # reddish purple
    }
    for state, colour in expected.items():
        image = artwork.render(IconKey(state, False, Theme.DARK, 64))
        assert _share_near(image, colour) > 0.2, state
    idle = artwork.render(IconKey(IconState.AWAY, True, Theme.DARK, 64))
    assert _share_near(idle, (0x56, 0xB4, 0xE9)) > 0.03  # the sky-blue idle mark


def test_offline_is_hollow(artwork: Artwork) -> None:
    image = artwork.render(IconKey(IconState.OFFLINE, False, Theme.DARK, 32))
    assert image.getchannel("A").getpixel((16, 16)) == 0
    filled = artwork.render(IconKey(IconState.AVAILABLE, False, Theme.DARK, 32))
    assert filled.getchannel("A").getpixel((16, 16)) == 255


@pytest.mark.parametrize("state", list(IconState))
def test_light_and_dark_variants_differ_and_each_stands_out_on_its_panel(
    artwork: Artwork, state: IconState
) -> None:
    dark = artwork.render(IconKey(state, False, Theme.DARK, 32))
    light = artwork.render(IconKey(state, False, Theme.LIGHT, 32))
    if state is not IconState.DISCONNECTED:  # the triangle has no theme colour
        assert _difference(dark, light) > 0.5
    for image, panel in ((dark, (40, 40, 40)), (light, (240, 240, 240))):
        shown = _on(image, panel)
        assert _difference(shown, Image.new("RGB", shown.size, panel)) > 10


def test_renders_are_cached_so_an_unchanged_key_draws_nothing(artwork: Artwork) -> None:
    key = IconKey(IconState.BUSY, False, Theme.LIGHT, 24)
    assert artwork.render(key) is artwork.render(key)
    assert artwork.render(key) is not artwork.render(
        IconKey(IconState.BUSY, False, Theme.LIGHT, 22)
    )


def test_sizes_out_of_range_are_refused(artwork: Artwork) -> None:
    with pytest.raises(ValueError, match="out of range"):
        artwork.render(IconKey(IconState.AWAY, False, Theme.DARK, 4))


# -- which icon a snapshot shows --------------------------------------------------------------


def _connected(status: Status, **changes: object) -> Snapshot:
    values: dict[str, object] = {
        "status": status,
        "why": Why.MANUAL,
        "connected": True,
        "dialect": Dialect.DOCUMENTED,
    }
    values.update(changes)
    return Snapshot(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("snap", "state", "idle"),
    [
        (Snapshot(), IconState.DISCONNECTED, False),
        (_connected(Status.AVAILABLE), IconState.AVAILABLE, False),
        (_connected(Status.BUSY), IconState.BUSY, False),
        (_connected(Status.AWAY), IconState.AWAY, False),
        (_connected(Status.AWAY, by_idle=True, why=Why.IDLE), IconState.AWAY, True),
        (_connected(Status.REASSIGNING), IconState.REASSIGNING, False),
        (_connected(Status.OFFLINE), IconState.OFFLINE, False),
        (_connected(Status.AVAILABLE, signed_out=True), IconState.DISCONNECTED, False),
        (_connected(Status.AVAILABLE, connected=False), IconState.DISCONNECTED, False),
        (
            _connected(Status.AVAILABLE, problem="cannot reach the server"),
            IconState.DISCONNECTED,
            False,
        ),
    ],
)
def test_icon_key_follows_the_servers_status(snap: Snapshot, state: IconState, idle: bool) -> None:
    key = icon_key(snap, Theme.LIGHT, 22)
    assert key == IconKey(state, idle, Theme.LIGHT, 22)


def test_a_pending_choice_does_not_change_the_icon_before_the_server_answers() -> None:
    before = _connected(Status.AVAILABLE)
    asked = _connected(Status.AVAILABLE, pending=Status.AWAY)
    assert icon_key(before) == icon_key(asked)


def test_theme_comes_from_the_environment_else_dark() -> None:
    assert detect_theme({ENV_THEME: "light"}, "linux") is Theme.LIGHT
    assert detect_theme({ENV_THEME: " Dark "}, "linux") is Theme.DARK
    assert detect_theme({ENV_THEME: "purple"}, "linux") is Theme.DARK
    assert detect_theme({}, "linux") is Theme.DARK


# -- the artwork file is checked, with errors that say where -------------------------------------


def _minimal() -> dict[str, object]:
    disc = {"shape": "disc", "centre": [32, 32], "radius": 20, "fill": "#112233"}
    return {
        "themes": {"dark": {"edge": "#FFFFFF"}, "light": {"edge": "#000000"}},
        "states": {state.value: [dict(disc)] for state in IconState},
        "marks": {"idle": [dict(disc)]},
    }


def test_a_minimal_artwork_parses_and_draws() -> None:
    art = Artwork.parse(_minimal())
    assert art.render(IconKey(IconState.AWAY, True, Theme.DARK, 16)).size == (16, 16)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["states"].pop("busy"), r"states\.busy"),
        (lambda d: d["themes"].pop("light"), r"themes\.light"),
        (
            lambda d: d["states"]["away"][0].update(shape="star"),
            r"states\.away\[0\]: unknown shape",
        ),
        (lambda d: d["states"]["away"][0].pop("radius"), r"disc needs radius"),
        (lambda d: d["states"]["away"][0].update(fill="nope"), r"neither a colour"),
        (lambda d: d["states"]["away"][0].update(glow=1), r"unknown key"),
        (lambda d: d["marks"]["idle"][0].update(centre=[1]), r"not a point"),
    ],
)
def test_artwork_errors_name_the_entry(change: object, message: str) -> None:
    data = _minimal()
    change(data)  # type: ignore[operator]
    with pytest.raises(ArtworkError, match=message):
        Artwork.parse(data, "art.toml")


def test_an_unreadable_artwork_file_is_an_artwork_error(tmp_path: Path) -> None:
    broken = tmp_path / "tray-icons.toml"
    broken.write_text("states = [")
    with pytest.raises(ArtworkError, match="not valid TOML"):
        Artwork.load(broken)
    with pytest.raises(ArtworkError, match="cannot read"):
        Artwork.load(tmp_path / "missing.toml")


def test_the_theme_follows_the_desktop_unless_told() -> None:
    from presence_agent.tray._theme import detect_theme as detect

    def no_gtk() -> None:
        return None

    # The portal's color-scheme: 1 prefers dark, 2 prefers light.
    assert detect({}, "linux", portal=lambda: 2, gtk=no_gtk) is Theme.LIGHT
    assert detect({}, "linux", portal=lambda: 1, gtk=no_gtk) is Theme.DARK
    # No preference there: GTK's theme.
    assert detect({}, "linux", portal=lambda: 0, gtk=lambda: ("Adwaita-dark", False)) is Theme.DARK
    assert detect({}, "linux", portal=lambda: None, gtk=lambda: ("Adwaita", True)) is Theme.DARK
    xfce = {"XDG_CURRENT_DESKTOP": "XFCE"}
    assert detect(xfce, "linux", portal=lambda: None, gtk=lambda: ("Greybird", False)) is (
        Theme.LIGHT
    )
    # GNOME's top bar is dark whatever the application theme.
    gnome = {"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}
    assert detect(gnome, "linux", portal=lambda: None, gtk=lambda: ("Yaru", False)) is Theme.DARK
    assert detect({}, "linux", portal=lambda: None, gtk=no_gtk) is Theme.DARK
    # tray_theme in the config, and the environment over it.
    assert detect({}, "linux", "light", portal=lambda: 1, gtk=no_gtk) is Theme.LIGHT
    assert detect({ENV_THEME: "dark"}, "linux", "light", portal=lambda: 2, gtk=no_gtk) is (
        Theme.DARK
    )


def test_tray_theme_is_a_checked_config_key(tmp_path: Path) -> None:
    from presence_agent import config
    from presence_agent.paths import Paths

    paths = Paths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run",
    )
    paths.config_dir.mkdir()
    paths.config_file.write_text('tray_theme = "light"\n')
    assert config.load(paths).tray_theme == "light"
    paths.config_file.write_text('tray_theme = "purple"\n')
    with pytest.raises(config.ConfigError, match="tray_theme"):
        config.load(paths)
