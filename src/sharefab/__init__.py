"""sharefab: an open-source shared manufacturing platform."""

__version__ = "0.1.0"
