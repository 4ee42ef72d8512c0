"""Where the app keeps its files. platformdirs decides; tests pass their own."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "presence-agent"


@dataclass(frozen=True)
class Paths:
    """The app's directories. Nothing is created until something is written."""

    config_dir: Path
    state_dir: Path
    log_dir: Path
    runtime_dir: Path
    #: System-wide config dirs an admin presets, most important first
    #: (on Linux ``$XDG_CONFIG_DIRS``, by default ``/etc/xdg``).
    site_config_dirs: tuple[Path, ...] = ()

    @classmethod
    def default(cls) -> Paths:
        import platformdirs

        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False, multipath=True)
        runtime = Path(dirs.user_runtime_dir)
        site = tuple(Path(p) for p in dirs.site_config_dir.split(os.pathsep) if p)
        return cls(
            config_dir=Path(dirs.user_config_dir),
            state_dir=Path(dirs.user_state_dir),
            log_dir=Path(dirs.user_log_dir),
            runtime_dir=runtime,
            site_config_dirs=site,
        )

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def site_config_files(self) -> tuple[Path, ...]:
        return tuple(d / "config.toml" for d in self.site_config_dirs)

    @property
    def log_file(self) -> Path:
        return self.log_dir / "presence-agent.log"

    def private_runtime_dir(self) -> Path:
        """The runtime dir, created private (0700): the control socket and lock live here."""
        for candidate in (self.runtime_dir, self.state_dir / "run"):
            try:
                candidate.mkdir(parents=True, exist_ok=True, mode=0o700)
                if os.name == "posix":
                    os.chmod(candidate, 0o700)
            except OSError:
                continue
            return candidate
        raise OSError(f"cannot create a private runtime directory (tried {self.runtime_dir})")
