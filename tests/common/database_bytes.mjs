// The bytes of a SQLite database as they sit on disk (the main file and, when it
// exists, its write-ahead log), for tests that grep them for a secret. A grep over a
// file that is missing or empty passes whatever the code does, so this first asserts
// the database exists and holds the rows the test just wrote (`mustHold`: strings from
// those rows), and only then hands back the bytes to grep.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";

export function databaseBytes(db, mustHold) {
  assert.ok(existsSync(db), `the database ${db} does not exist`);
  assert.ok(mustHold.length > 0, "name at least one string the database must hold");
  const files = [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f));
  const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
  for (const row of mustHold) {
    assert.ok(bytes.includes(row), `${files.join(" + ")} hold no ${JSON.stringify(row)}: a secret grep over them would prove nothing`);
  }
  return bytes;
}
