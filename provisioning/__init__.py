"""Technicians' tools: station PKI, device enrolment, broker credentials and ACLs, self-test, decommissioning."""
