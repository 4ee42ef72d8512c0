"""Idle sources and the one place that picks one."""

from __future__ import annotations

from presence_agent.idle.base import IdleSource, IdleSourceError

__all__ = ["IdleSource", "IdleSourceError", "create"]


def create(preference: str = "auto") -> IdleSource:
    """The idle source to use.

    ``preference`` comes from the config; ``PRESENCE_AGENT_IDLE_SOURCE`` overrides it.
    """
    import os

    choice = os.environ.get("PRESENCE_AGENT_IDLE_SOURCE") or preference
    if choice not in ("auto", "pynput"):
        raise IdleSourceError(f"unknown idle source {choice!r} (known: auto, pynput)")
    from presence_agent.idle._pynput import PynputSource

    return PynputSource()
