"""Information governance: the log of reads of police data, the hash chains of that log and
of the audit events, and the retention purge (API.md, "Information governance")."""
