-- A service says whether the visitor must have a verified identity to take it (the kiosk asks for card + face first).
ALTER TABLE services ADD COLUMN needs_identity INTEGER NOT NULL DEFAULT 0 CHECK (needs_identity IN (0, 1));
UPDATE services SET needs_identity = 1 WHERE code = 'report';
