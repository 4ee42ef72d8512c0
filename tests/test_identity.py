"""The project's identity (presence_agent/__init__.py) is the one used everywhere.

pyproject.toml and the Inno Setup script cannot import Python, so they hold
copies; these tests keep the copies equal and keep the helpdesk server's own
repository (and placeholder addresses) out of every published field.
"""

from __future__ import annotations

import plistlib
import re
import sys
from pathlib import Path

import pytest

import presence_agent
from presence_agent.client import USER_AGENT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = [
    ROOT / "pyproject.toml",
    ROOT / "packaging" / "linux" / "build-deb.sh",
    ROOT / "packaging" / "windows" / "presence-agent.iss",
    ROOT / "packaging" / "macos" / "Info.plist",
    ROOT / "presence_agent" / "client.py",
]


def test_the_identity_is_the_projects_own() -> None:
    assert presence_agent.PROJECT_URL.startswith("https://github.com/presence-agent/")
    assert "abhinavxd" not in presence_agent.PROJECT_URL
    assert re.fullmatch(r"[^<>@]+ <[^<>@ ]+@[^<>@ ]+\.[a-z]+>", presence_agent.MAINTAINER)
    assert not presence_agent.MAINTAINER_EMAIL.endswith(".invalid")


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.name)
def test_no_published_field_points_at_the_helpdesk_or_a_placeholder(path: Path) -> None:
    text = path.read_text()
    assert "abhinavxd" not in text
    assert "@invalid" not in text


def test_pyproject_urls_and_people_are_the_identity() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["urls"]["Homepage"] == presence_agent.PROJECT_URL
    assert meta["urls"]["Issues"] == presence_agent.ISSUES_URL
    for people in (meta["authors"], meta["maintainers"]):
        assert people == [
            {"name": presence_agent.MAINTAINER_NAME, "email": presence_agent.MAINTAINER_EMAIL}
        ]


def test_inno_setup_publisher_is_the_identity() -> None:
    iss = (ROOT / "packaging" / "windows" / "presence-agent.iss").read_text()
    assert f'#define AppURL "{presence_agent.PROJECT_URL}"' in iss
    assert f'#define AppPublisherName "{presence_agent.MAINTAINER_NAME}"' in iss
    assert "AppPublisherURL={#AppURL}" in iss


def test_the_user_agent_names_the_project() -> None:
    version, url = presence_agent.__version__, presence_agent.PROJECT_URL
    assert f"presence-agent/{version} (+{url})" == USER_AGENT


def test_the_macos_bundle_names_the_maintainers() -> None:
    info = plistlib.loads((ROOT / "packaging" / "macos" / "Info.plist").read_bytes())
    assert presence_agent.MAINTAINER_NAME in info["NSHumanReadableCopyright"]
