"""The kiosk agent: card reader, camera, printer and the visitor's touch UI."""
