"""The kiosk's hardware behind small interfaces, with real adapters chosen by settings: camera, printer (and the
card reader in `kiosk.card.reader`)."""
