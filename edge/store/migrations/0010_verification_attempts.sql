-- Verification attempts per document, to limit attempts per visit. Holds only the keyed hash of the document
-- number (HMAC with the station secret), the kiosk and the outcome: never an image, an embedding or the number.
CREATE TABLE verification_attempts (
    id INTEGER PRIMARY KEY,
    document_hash TEXT NOT NULL CHECK (length(document_hash) = 64),
    kiosk TEXT NOT NULL,
    at TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('match','no_match','retry','spoof'))
);
CREATE INDEX verification_attempts_doc ON verification_attempts (document_hash, at);
