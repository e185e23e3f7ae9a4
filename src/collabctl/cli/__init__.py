"""The command line: parse, prompt, render, map errors to exit codes."""
