-- A session's state: `recording` while a recorder writes it (and holds its lock, see
-- store/live.rs), `complete` once it ended cleanly, `interrupted` when it was found
-- still `recording` with nobody writing it (the recorder was killed or crashed); its
-- ended_at is then the time of its last event.
ALTER TABLE sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'recording';

-- Sessions from before this migration: ended ones are complete; open ones are left
-- `recording`, and the check that runs after every migration marks them interrupted
-- unless a recorder still holds them.
UPDATE sessions SET state = 'complete' WHERE ended_at IS NOT NULL;
