"""Schema-validated device profiles: desired versus reported state."""
