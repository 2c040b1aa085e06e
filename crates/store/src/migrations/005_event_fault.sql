-- A fault the capture proxy injected into this event (dropped, delayed, rewritten,
-- transport closed), in words; NULL for an event that crossed untouched.
ALTER TABLE events ADD COLUMN fault TEXT;
