"""Musrenbang: participatory development planning on an append-only event log."""
