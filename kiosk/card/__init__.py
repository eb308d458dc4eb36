"""Smart-card identity: ICAO 9303 eMRTD reading over PC/SC, and a virtual card for tests and demos."""
