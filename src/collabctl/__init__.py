"""collabctl: end, start and audit collaborations between companies and their accounting offices."""

__version__ = "0.2.0"
