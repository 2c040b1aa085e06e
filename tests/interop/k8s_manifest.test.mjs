// `simulate ... --k8s-job`: the printed manifest validates offline against the
// Kubernetes schemas (PyPI kubernetes-validate, strict, a pinned Kubernetes
// version), a broken one is rejected by the same check, and the commands the pods
// would run, run here (index substituted, volumes as folders) against a real
// `sockscope serve`, give a merged report of the whole run. No cluster is involved:
// nothing here says the Job runs on one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { run, serve, sockscopeBin, withTimeout } from "./harness.mjs";

/** The Kubernetes version the manifest is checked against. */
const KUBERNETES_VERSION = "1.34.0";

function validator() {
  const bin = process.env.KUBERNETES_VALIDATE;
  if (!bin) throw new Error("KUBERNETES_VALIDATE is not set: run these tests through `cargo xtask test` (it installs kubernetes-validate)");
  return bin;
}

/** Runs kubernetes-validate --strict on `file`: {code, out}. */
function validate(file) {
  return withTimeout(
    new Promise((resolve) => {
      execFile(validator(), ["--strict", "-k", KUBERNETES_VERSION, file], (err, stdout, stderr) =>
        resolve({ code: err ? (err.code ?? 1) : 0, out: stdout + stderr }),
      );
    }),
    "kubernetes-validate",
    60_000,
  );
}

async function manifest(extra) {
  const r = await run([
    "simulate", "analytics-dashboard", "--target", "http://gateway.example:4004", "--clients", "300",
    "--duration", "60s", "--k8s-job", "--k8s-shards", "3", "--k8s-image", "registry.example/sockscope:test", ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test("simulate --k8s-job: the manifest validates against the Kubernetes schemas; a broken one does not", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-k8s-"));
  const text = await manifest(["--k8s-name", "load-1", "--k8s-namespace", "perf", "--k8s-secret", "sim-secrets"]);
  const docs = parseAllDocuments(text).map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => d.kind), ["ConfigMap", "PersistentVolumeClaim", "Job", "Job"]);
  const [config, , shards, merge] = docs;
  assert.equal(JSON.parse(config.data["scenario.json"]).name, "analytics-dashboard");
  assert.equal(shards.spec.completionMode, "Indexed");
  assert.equal(shards.spec.completions, 3);
  assert.equal(shards.spec.parallelism, 3);
  const pod = shards.spec.template.spec.containers[0];
  assert.ok(pod.args.join(" ").includes("--shard $(JOB_COMPLETION_INDEX)/3 --report-out /reports/shard-$(JOB_COMPLETION_INDEX).json"), pod.args.join(" "));
  assert.ok(pod.args.join(" ").includes("--clients 300"), "the whole run's clients");
  assert.equal(pod.env.find((e) => e.name === "JOB_COMPLETION_INDEX").valueFrom.fieldRef.fieldPath,
    "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  const startAt = Number(pod.env.find((e) => e.name === "SOCKSCOPE_START_AT").value);
  assert.ok(Math.abs(startAt - (Date.now() / 1000 + 120)) < 30, `start ${startAt} is about 2 min ahead`);
  // The secret is referenced, never printed.
  assert.equal(pod.env.find((e) => e.name === "SOCKSCOPE_JWT_SECRET").valueFrom.secretKeyRef.name, "sim-secrets");
  assert.deepEqual(merge.spec.template.spec.containers[0].args.slice(-3), ["/reports/shard-0.json", "/reports/shard-1.json", "/reports/shard-2.json"]);
  assert.ok(docs.every((d) => d.metadata.namespace === "perf"));

  const good = join(dir, "good.yaml");
  writeFileSync(good, text);
  const ok = await validate(good);
  assert.equal(ok.code, 0, ok.out);
  // Each of the four objects was checked against the pinned version's schema.
  assert.equal((ok.out.match(/passed for resource .* against version 1\.34/g) ?? []).length, 4, ok.out);

  // Positive controls: the same manifest with a wrong type, an unknown field or a
  // missing required field fails the same check.
  const breakages = [
    ["parallelism is not an integer", (d) => { d[2].spec.parallelism = "three"; }],
    ["a misspelt field (strict)", (d) => { d[2].spec.completionsMode = d[2].spec.completionMode; delete d[2].spec.completionMode; }],
    ["a container without a name", (d) => { delete d[3].spec.template.spec.containers[0].name; }],
  ];
  for (const [what, breakIt] of breakages) {
    const copy = structuredClone(docs);
    breakIt(copy);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, copy.map((d) => stringify(d)).join("---\n"));
    const r = await validate(bad);
    assert.notEqual(r.code, 0, `${what} was accepted: ${r.out}`);
    assert.match(r.out, /did not validate for resource job\//, what);
  }
});

test("simulate --k8s-job: bad requests are one line and exit 2", async () => {
  for (const [args, want] of [
    [["--embedded", "--k8s-job", "--k8s-shards", "2", "--k8s-image", "i"], /--target/],
    [["--target", "http://g:1", "--k8s-job", "--k8s-image", "i"], /--k8s-shards/],
    [["--target", "http://g:1", "--k8s-job", "--k8s-shards", "2", "--k8s-image", "i", "--k8s-name", "Bad_Name"], /--k8s-name "Bad_Name"/],
    [["--target", "http://g:1", "--k8s-job", "--k8s-shards", "2", "--k8s-image", "i", "--shard", "0/2"], /--k8s-shards N instead/],
    [["--target", "http://g:1", "--k8s-job", "--k8s-shards", "0", "--k8s-image", "i"], /--k8s-shards/],
  ]) {
    const r = await run(["simulate", "analytics-dashboard", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
});

test("simulate --k8s-job: the pods' own commands, run here, merge to the whole run", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--tick-ms", "200"]);
  t.after(() => srv.child.kill());
  const scenario = new URL("./fixtures/shard-check.scenario.json", import.meta.url).pathname;
  const r = await run([
    "simulate", "--file", scenario, "--target", srv.url, "--clients", "9", "--ramp", "500ms", "--duration", "3s",
    "--k8s-job", "--k8s-shards", "3", "--k8s-image", "unused", "--k8s-lead", "2s", "--ensure", "errors(wait_timeout)==9",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  const dir = mkdtempSync(join(tmpdir(), "sockscope-k8s-run-"));
  const scenarioDir = join(dir, "scenario");
  const reportsDir = join(dir, "reports");
  mkdirSync(scenarioDir);
  mkdirSync(reportsDir);
  writeFileSync(join(scenarioDir, "scenario.json"), docs[0].data["scenario.json"]);
  const local = (arg) => arg.replace(/^\/scenario\//, `${scenarioDir}/`).replace(/^\/reports\//, `${reportsDir}/`);
  const pod = docs[2].spec.template.spec.containers[0];
  const startAt = pod.env.find((e) => e.name === "SOCKSCOPE_START_AT").value;
  // What the kubelet does: $(JOB_COMPLETION_INDEX) expanded from the pod's env.
  const shardRun = (index) =>
    withTimeout(
      new Promise((resolve) => {
        const args = pod.args.map((a) => local(a.replaceAll("$(JOB_COMPLETION_INDEX)", String(index))));
        const child = spawn(sockscopeBin(), args, { env: { ...process.env, SOCKSCOPE_START_AT: startAt, JOB_COMPLETION_INDEX: String(index) } });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stderr }));
      }),
      `shard ${index}`,
      30_000,
    );
  const mergeArgs = docs[3].spec.template.spec.containers[0].args.map(local);
  // The merge Job starts with the shards and waits for their reports.
  const [merged, ...shards] = await Promise.all([run([...mergeArgs, "--json"]), shardRun(0), shardRun(1), shardRun(2)]);
  for (const s of shards) assert.equal(s.code, 0, s.stderr);
  assert.equal(merged.code, 0, merged.stderr);
  const report = JSON.parse(merged.stdout);
  assert.equal(report.clients, 9);
  assert.equal(report.connected, 9, JSON.stringify(report.errors_by_kind));
  assert.equal(report.acks_ok, 36);
  // The --ensure given to --k8s-job is the merge's, on the whole run.
  assert.match(merged.stderr, /ensure errors\(wait_timeout\)==9: holds/);
  assert.equal(JSON.parse(readFileSync(join(reportsDir, "merged.json"), "utf8")).shards.length, 3);
});
