"""The visitor queue: services, counters, tickets, wait estimates and KPIs."""
