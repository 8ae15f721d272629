"""zones: a federation of nested zones over public HTTP APIs."""

__version__ = "0.1.0"
