"""Police reports (بلاغات): the type catalogue, the one procedure, parties and statements, sealed personal data,
sharing with agencies and referral to the prosecution. Plain Python over the store: no HTTP here."""
