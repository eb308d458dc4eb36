-- A ticket of a service that needs identity stands on one face match made at the issuing kiosk: the attempt's id is
-- kept (no foreign key: old attempts are pruned, the ticket stays), and one match gives one ticket.
ALTER TABLE tickets ADD COLUMN verification_id INTEGER;
CREATE UNIQUE INDEX tickets_verification ON tickets (verification_id) WHERE verification_id IS NOT NULL;
