"""Each step prodfix performs, shaped like every command: `gather(...)` reads the facts the
step needs, `plan(facts)` turns them into a program of operations (pure: no git, no network;
tested as data), and the interpreter runs it."""
