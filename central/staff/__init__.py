"""Central staff: accounts with a role, sign-in with lock-out, sessions, and central's own audit log."""
