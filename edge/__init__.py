"""The edge node: one per station, the station's source of truth."""
