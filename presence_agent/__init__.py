"""presence-agent: keep a Libredesk agent's availability true to whether they are at their desk.

The project's identity lives here, once: the version, where the project lives and
who maintains it. ``pyproject.toml``, the .deb, the Inno Setup installer, the
macOS bundle and the HTTP User-Agent all take it from here (the build scripts
read it; ``tests/test_identity.py`` checks the static copies in pyproject.toml
and the installer scripts).
"""

__version__ = "0.1.0"

#: The project's home: its own repository, not the helpdesk server's.
PROJECT_URL = "https://github.com/presence-agent/presence-agent"
#: Where people report problems.
ISSUES_URL = f"{PROJECT_URL}/issues"
#: Who publishes the packages.
MAINTAINER_NAME = "presence-agent maintainers"
MAINTAINER_EMAIL = "maintainers@presence-agent.github.io"
MAINTAINER = f"{MAINTAINER_NAME} <{MAINTAINER_EMAIL}>"
