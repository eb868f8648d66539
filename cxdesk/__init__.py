"""cxdesk: closed-loop customer-experience tickets in the terminal."""

__version__ = "0.1.0"  # also the package's version (pyproject.toml reads it)
