"""One module per command: gather facts, build a program, run it."""
