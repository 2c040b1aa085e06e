// The release workflow cannot run here (no GitHub runners), so this checks what can
// be checked: the file parses as YAML, builds every platform's installers, and calls
// the same `cargo xtask bundle --bundles ...` that xtask accepts for each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("release workflow: parses, covers Windows, macOS and Linux, names real xtask commands", () => {
  const wf = parse(readFileSync(join(root, ".github/workflows/release.yml"), "utf8"), { strict: true });
  assert.deepEqual(wf.on.push.tags, ["v*"]);
  const job = wf.jobs.bundle;
  const byOs = Object.fromEntries(job.strategy.matrix.include.map((m) => [m.os, m.bundles]));
  assert.equal(byOs["windows-latest"], "msi,nsis");
  assert.equal(byOs["macos-latest"], "app,dmg");
  assert.equal(byOs["ubuntu-22.04"], "deb,rpm");
  const bundle = job.steps.find((s) => s.name === "Bundle");
  assert.equal(bundle.run, "cargo xtask bundle --bundles ${{ matrix.bundles }}");
  const upload = job.steps.find((s) => String(s.uses).startsWith("softprops/action-gh-release"));
  for (const ext of ["deb", "rpm", "msi", "exe", "dmg"]) assert.match(upload.with.files, new RegExp(`\\*\\.${ext}$`, "m"));
  // xtask refuses what it does not know, so a typo in the workflow would fail here.
  const help = execFileSync("cargo", ["xtask", "--help"], { cwd: root, encoding: "utf8" });
  assert.match(help, /bundle \[--debug\] \[--bundles deb,rpm\]/);
});
