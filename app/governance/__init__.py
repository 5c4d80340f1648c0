"""Information governance: what partners may read of police data, the proof of it, and
what the data protection officer needs."""
