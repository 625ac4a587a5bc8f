"""A transaction: its session actor, the only writer of its rows, and the state of its 2.x events."""
