"""The technician's page on the edge node: device inventory, claim codes, approvals, revocation, desired profiles."""
