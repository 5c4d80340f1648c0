"""Cross-cutting pieces: database, errors, routing, pagination, concurrency, audit."""
