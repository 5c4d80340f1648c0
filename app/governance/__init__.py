"""Information governance (API.md, "Information governance"): identifiers kept out of
shared text, the log of reads of police data, the hash chains of that log and of the audit
events, the retention purge, and the DPO's tools."""
