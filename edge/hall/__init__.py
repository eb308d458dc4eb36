"""The hall: the officers' counter screen, the supervisor's KPI page and the hall display with spoken calls."""
