"""Information governance: what partners may read of police data, and the proof of it."""
