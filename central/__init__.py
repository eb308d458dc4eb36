"""Central: ingests every station's telemetry, stores it, shows a dashboard with alerts and KPIs."""
