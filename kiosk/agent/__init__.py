"""The kiosk agent: one process per kiosk, serving the touch UI on localhost and driving the session and hardware."""
