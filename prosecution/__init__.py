"""A small receiving service standing in for the public prosecution: verifies signed referrals and acknowledges
each with a case number (for tests and the demo)."""
