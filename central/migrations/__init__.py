"""Central's numbered SQL migrations, run in order by central.db.migrate on both backends."""
