"""autoheal: keeps Docker containers alive."""

__version__ = "0.1.0"
