"""The rules of collabctl: pure Python, no I/O."""
