"""The kiosk's touch screens: templates and strings rendered from the session's view (see markaz.web)."""
