"""Reports (signalements): landlords' and partners' intake, routing and triage."""
