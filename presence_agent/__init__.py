"""presence-agent: keep a Libredesk agent's availability true to whether they are at their desk."""

__version__ = "0.1.0"
