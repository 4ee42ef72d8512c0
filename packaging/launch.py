"""The frozen app's entry script (PyInstaller needs a file, not an entry point)."""

from presence_agent.cli import main

raise SystemExit(main())
