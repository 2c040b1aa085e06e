-- Saved Socket.IO Admin UI targets (the Inspector's sources). The target is JSON
-- without any password: passwords live in the OS keychain.
CREATE TABLE admin_targets (
    name        TEXT PRIMARY KEY,
    target      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
