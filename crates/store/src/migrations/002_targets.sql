-- Saved gateway targets (the Connections panel). The profile is JSON without any
-- token: tokens live in the OS keychain.
CREATE TABLE targets (
    name        TEXT PRIMARY KEY,
    profile     TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
