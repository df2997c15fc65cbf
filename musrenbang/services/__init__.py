"""Load → decide → append: the only place where the pure domain and the event log meet."""
