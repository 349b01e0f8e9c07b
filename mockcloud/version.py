"""The version of mockcloud (``mockcloud.__version__``), where every layer may read it."""

__version__ = "0.1.0"
