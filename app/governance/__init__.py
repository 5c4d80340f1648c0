"""Information governance: what the service's data protection officer needs."""
