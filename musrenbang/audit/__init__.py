"""The auditor's tools: the whole log exported as JSON Lines (`export`), and the offline check of such a
file (`verify_file`): hash chains, seals, every forum result and RKPD list recomputed
(musrenbang/recompute.py), and optionally compared with what a running server publishes (`against`).

File format (`musrenbang-events` version 2; version 1 files, without `order` and seals, are still read),
one JSON document per line, UTF-8:

- line 1, the header: `{"format": "musrenbang-events", "version": 2, "events": N, "last_position": P,
  ...}` (no export time, so exporting the same log twice gives the same bytes);
- then one line per event in global order: `position`, `order` (the order key seals follow, see
  eventlog/seal.py), `stream`, `version`, `event_id`, `type`,
  `recorded_at`, `data`, `metadata` (both in canonical form: compact JSON, keys sorted), `hash` (hex).
  The canonical bytes an event's hash covers are the compact JSON array
  `[stream, version, event_id, type, recorded_at, data, metadata]`, and
  `hash = sha256(previous hash of the stream || canonical bytes)`, the previous hash of a stream's first
  event being 32 zero bytes;
- `proposal.submitted` lines also carry, outside the hashed data, `proposer`: HMAC-SHA256 of the
  proposer's normalised phone number under a salt derived from the server secret, so that proposals from
  one person can be matched without anyone learning who it is. Names and phone numbers never appear.
- `log.sealed` events are seals over the whole log: seal n's `hash` is
  sha256("musrenbang seal v1\n" || seal n-1's hash || the `hash` of every event after seal n-1 up to
  (`up_to_tx`, `position`), in (`order`, `position`) order), seal 0's hash being 32 zero bytes.
"""
