"""Pure domain: events, commands, `decide(state, command) -> events`, `evolve(state, event) -> state`.

Nothing in this package does I/O or imports anything outside the standard library and msgspec; a test
checks that.
"""
