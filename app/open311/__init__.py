"""Open311 GeoReport v2 facade over reports, for civic-reporting tools (JSON formats)."""
