"""Who is acting: staff accounts and devices, their tokens, roles and permissions."""
