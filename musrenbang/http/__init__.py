"""The HTTP layer: thin handlers that decode, call one service or query, and render."""
