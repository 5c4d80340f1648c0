"""GPO case management service for the Metz security contract."""
