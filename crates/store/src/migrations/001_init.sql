-- Sessions and their events. Secrets never get here: records are redacted at the
-- source and session metadata is the connection profile minus secrets.
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,          -- gateway | connection | import
    target      TEXT    NOT NULL DEFAULT '',
    started_at  INTEGER NOT NULL,          -- unix micros
    ended_at    INTEGER,
    meta        TEXT    NOT NULL DEFAULT '{}'
);

CREATE TABLE events (
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    direction   TEXT    NOT NULL,          -- c2s | s2c
    namespace   TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    args        TEXT    NOT NULL,          -- JSON array
    ack         TEXT,                      -- JSON {id, reply}
    socket_id   TEXT,
    rooms       TEXT,                      -- JSON array
    tenant      TEXT,
    user        TEXT,
    size        INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE INDEX events_by_name ON events(session_id, event);
