"""Delivering the outbox: messages to residents, queued with the events that cause them
(eventlog/outbox.py), sent by e-mail (SMTP) or through an HTTP gateway for SMS and WhatsApp.

`channels` holds the adapters and the gateway's contract, `worker` the supervised senders that claim one
message at a time, and `queries` what the staff page `/petugas/pesan` shows.
"""
