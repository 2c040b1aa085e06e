//! `simulate ... --k8s-job`: prints the Kubernetes objects that run one simulation
//! split over N pods, instead of running it.
//!
//! - a ConfigMap holding the scenario file (a shipped scenario's own JSON, or the
//!   `--file` given), mounted at `/scenario`;
//! - a PersistentVolumeClaim (`ReadWriteMany`) the pods write their reports to;
//! - an Indexed Job with `completions = parallelism = N`: pod `I` runs
//!   `sockscope simulate --shard I/N --report-out /reports/shard-I.json`, its index
//!   read from the pod's `batch.kubernetes.io/job-completion-index` annotation. Every
//!   pod gets the same `SOCKSCOPE_START_AT` (the generation time plus
//!   `--k8s-lead`, or `--start-at`), so the shards start together however long their
//!   pods took to be scheduled;
//! - a second Job that runs `sockscope report merge --wait` on the N report files
//!   and prints the merged report to its log; `--ensure` conditions are checked
//!   there, on the whole run (the Job fails when one does not hold).
//!
//! The merge is a second Job rather than a step inside the shard pods so that every
//! shard pod stays the same (no pod waits for the others or needs API access to
//! watch them), and the merged report is one `kubectl logs job/NAME-merge` away.
//! Nothing here talks to a cluster: the manifest is checked offline against the
//! Kubernetes schemas by the tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::{json, Value};

use crate::error::{CliError, Result};
use crate::numbers::duration as parse_duration;

/// Where the pods find the scenario and write their reports.
const SCENARIO_DIR: &str = "/scenario";
const REPORTS_DIR: &str = "/reports";
/// Kubernetes names are DNS-1123 labels of at most 63 characters; the longest suffix
/// added is `-scenario` (9).
const MAX_NAME: usize = 50;

#[derive(Debug, Args, Default)]
pub struct K8sArgs {
    /// Print a Kubernetes manifest (ConfigMap with the scenario, an Indexed Job of
    /// --k8s-shards pods, a merge Job) that runs this simulation split over pods,
    /// instead of running it. Needs --target, --k8s-shards and --k8s-image.
    #[arg(long = "k8s-job", requires_all = ["k8s_shards", "k8s_image", "target"])]
    pub job: bool,
    /// Pods (shards) the run is split into.
    #[arg(long, value_name = "N", requires = "job", value_parser = shards)]
    pub k8s_shards: Option<usize>,
    /// Container image whose `sockscope` binary the pods run.
    #[arg(long, value_name = "IMAGE", requires = "job")]
    pub k8s_image: Option<String>,
    /// Name prefix of the objects (default sockscope-sim-<start time>).
    #[arg(long, value_name = "NAME", requires = "job")]
    pub k8s_name: Option<String>,
    /// Namespace of the objects (default: kubectl's current one).
    #[arg(long, value_name = "NS", requires = "job")]
    pub k8s_namespace: Option<String>,
    /// Without --start-at, the shards start this long after the manifest is printed
    /// (time to apply it and schedule the pods).
    #[arg(long, value_parser = parse_duration, default_value = "2m", value_name = "D")]
    pub k8s_lead: Duration,
    /// A Secret whose keys `jwt-secret` and `api-token` (both optional) the pods read
    /// as SOCKSCOPE_JWT_SECRET / SOCKSCOPE_API_TOKEN; secrets are never printed
    /// into the manifest.
    #[arg(long, value_name = "SECRET", requires = "job")]
    pub k8s_secret: Option<String>,
    /// Storage class of the reports' ReadWriteMany claim (default: the cluster's).
    #[arg(long, value_name = "CLASS", requires = "job")]
    pub k8s_storage_class: Option<String>,
}

fn shards(s: &str) -> std::result::Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| "not a whole number".to_owned())?;
    if n == 0 || n > sockscope_engine::simulate::shard::MAX_SHARDS {
        return Err(format!(
            "allowed range is 1 to {}",
            sockscope_engine::simulate::shard::MAX_SHARDS
        ));
    }
    Ok(n)
}

/// What the pods run, from the `simulate` arguments.
pub struct Plan {
    /// The scenario file's text.
    pub scenario_text: String,
    /// `simulate` arguments every shard pod shares (no --shard, --report-out).
    pub args: Vec<String>,
    /// `--ensure` conditions: checked by the merge, on the whole run's report.
    pub ensure: Vec<String>,
    pub duration: Duration,
    pub start_at: Option<SystemTime>,
}

/// Prints the manifest for `plan` (YAML documents on stdout).
pub fn print_plan(k: &K8sArgs, plan: &Plan) -> Result<()> {
    let docs = manifest(k, plan, SystemTime::now())?;
    let mut text = String::from(
        "# sockscope simulate --k8s-job: apply with `kubectl apply -f`, then read the merged\n# report with `kubectl logs job/<name>-merge`. Generated for one run: the start time\n# below is absolute, so generate it again for the next run.\n",
    );
    for doc in &docs {
        let yaml = serde_norway::to_string(doc)
            .map_err(|e| CliError::Failed(format!("cannot render the manifest: {e}")))?;
        text.push_str("---\n");
        text.push_str(&yaml);
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The manifest's objects as JSON values.
pub fn manifest(k: &K8sArgs, plan: &Plan, now: SystemTime) -> Result<Vec<Value>> {
    let usage = |m: String| Err(CliError::Usage(m));
    let (Some(n), Some(image)) = (k.k8s_shards, k.k8s_image.as_deref()) else {
        return usage("--k8s-job needs --k8s-shards N and --k8s-image IMAGE".into());
    };
    let start_at = plan.start_at.unwrap_or(now + k.k8s_lead);
    let start_secs = start_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let name = match &k.k8s_name {
        Some(n) => n.clone(),
        None => format!("sockscope-sim-{}", start_secs as u64),
    };
    if !is_dns_label(&name) || name.len() > MAX_NAME {
        return usage(format!(
            "--k8s-name {name:?}: lowercase letters, digits and '-', starting and ending with a letter or digit, at most {MAX_NAME} characters"
        ));
    }
    let meta = |suffix: &str| {
        let mut m = json!({
            "name": format!("{name}-{suffix}"),
            "labels": { "app.kubernetes.io/name": "sockscope", "app.kubernetes.io/instance": name },
        });
        if let Some(ns) = &k.k8s_namespace {
            m["namespace"] = json!(ns);
        }
        m
    };
    let mut env = vec![
        json!({ "name": "JOB_COMPLETION_INDEX", "valueFrom": { "fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }),
        json!({ "name": "SOCKSCOPE_START_AT", "value": format!("{start_secs:.3}") }),
    ];
    if let Some(secret) = &k.k8s_secret {
        for (var, key) in [
            ("SOCKSCOPE_JWT_SECRET", "jwt-secret"),
            ("SOCKSCOPE_API_TOKEN", "api-token"),
        ] {
            env.push(json!({ "name": var, "valueFrom": { "secretKeyRef": {
                "name": secret, "key": key, "optional": true } } }));
        }
    }
    let mut shard_args = plan.args.clone();
    shard_args.extend([
        "--shard".to_owned(),
        format!("$(JOB_COMPLETION_INDEX)/{n}"),
        "--report-out".to_owned(),
        format!("{REPORTS_DIR}/shard-$(JOB_COMPLETION_INDEX).json"),
    ]);
    let reports_volume = json!({ "name": "reports", "persistentVolumeClaim": { "claimName": format!("{name}-reports") } });
    let mut claim_spec = json!({
        "accessModes": ["ReadWriteMany"],
        "resources": { "requests": { "storage": "1Gi" } },
    });
    if let Some(class) = &k.k8s_storage_class {
        claim_spec["storageClassName"] = json!(class);
    }
    // The merge waits for the shards: the time to the start, the run, and a margin
    // for the last reports to be written.
    let until_start = start_at.duration_since(now).unwrap_or(Duration::ZERO);
    let wait = until_start + plan.duration + Duration::from_secs(300);
    let mut merge_args = vec![
        "report".to_owned(),
        "merge".to_owned(),
        "--wait".to_owned(),
        format!("{}s", wait.as_secs()),
        "--out".to_owned(),
        format!("{REPORTS_DIR}/merged.json"),
    ];
    for cond in &plan.ensure {
        merge_args.extend(["--ensure".to_owned(), cond.clone()]);
    }
    merge_args.extend((0..n).map(|i| format!("{REPORTS_DIR}/shard-{i}.json")));
    let shards_job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta("shards"),
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": n,
            // A retried shard would start late and measure a different run: a
            // failed shard fails the Job, and the merge names the missing report.
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": { "app.kubernetes.io/name": "sockscope", "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "shard" } },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "simulate",
                        "image": image,
                        "command": ["sockscope"],
                        "args": shard_args,
                        "env": env,
                        "volumeMounts": [
                            { "name": "scenario", "mountPath": SCENARIO_DIR, "readOnly": true },
                            { "name": "reports", "mountPath": REPORTS_DIR },
                        ],
                    }],
                    "volumes": [
                        { "name": "scenario", "configMap": { "name": format!("{name}-scenario") } },
                        reports_volume,
                    ],
                },
            },
        },
    });
    let merge_job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta("merge"),
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": { "app.kubernetes.io/name": "sockscope", "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "merge" } },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "merge",
                        "image": image,
                        "command": ["sockscope"],
                        "args": merge_args,
                        "volumeMounts": [{ "name": "reports", "mountPath": REPORTS_DIR }],
                    }],
                    "volumes": [reports_volume],
                },
            },
        },
    });
    Ok(vec![
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("scenario"),
            "data": { "scenario.json": plan.scenario_text },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta("reports"),
            "spec": claim_spec,
        }),
        shards_job,
        merge_job,
    ])
}

/// The path the shard pods read the scenario from.
pub fn scenario_path() -> String {
    format!("{SCENARIO_DIR}/scenario.json")
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            scenario_text: "{\"name\":\"x\"}".into(),
            args: vec!["simulate".into(), "--file".into(), scenario_path()],
            ensure: vec!["errors==0".into()],
            duration: Duration::from_secs(60),
            start_at: None,
        }
    }

    fn args(n: usize) -> K8sArgs {
        K8sArgs {
            job: true,
            k8s_shards: Some(n),
            k8s_image: Some("registry.example/sockscope:1".into()),
            k8s_lead: Duration::from_secs(120),
            ..K8sArgs::default()
        }
    }

    #[test]
    fn the_job_maps_its_index_to_a_shard_and_the_merge_reads_every_report() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let docs = manifest(&args(3), &plan(), now).expect("manifest");
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(kinds, ["ConfigMap", "PersistentVolumeClaim", "Job", "Job"]);
        let job = &docs[2]["spec"];
        assert_eq!(job["completionMode"], "Indexed");
        assert_eq!(
            (job["completions"].as_u64(), job["parallelism"].as_u64()),
            (Some(3), Some(3))
        );
        let c = &job["template"]["spec"]["containers"][0];
        let a: Vec<&str> = c["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            a.windows(2)
                .any(|w| w == ["--shard", "$(JOB_COMPLETION_INDEX)/3"]),
            "{a:?}"
        );
        assert_eq!(c["env"][1]["value"], "1800000120.000");
        let merge: Vec<&str> = docs[3]["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            &merge[merge.len() - 3..],
            [
                "/reports/shard-0.json",
                "/reports/shard-1.json",
                "/reports/shard-2.json"
            ]
        );
        // The gate is the merge's, on the whole run.
        assert!(
            merge.windows(2).any(|w| w == ["--ensure", "errors==0"]),
            "{merge:?}"
        );
        assert!(!a.contains(&"--ensure"), "{a:?}");
        assert_eq!(
            docs[0]["metadata"]["name"],
            "sockscope-sim-1800000120-scenario"
        );
    }

    #[test]
    fn names_must_be_kubernetes_names() {
        let now = SystemTime::now();
        for bad in ["Upper", "-x", "x-", "a_b", &"a".repeat(51)] {
            let k = K8sArgs {
                k8s_name: Some(bad.to_owned()),
                ..args(2)
            };
            assert!(manifest(&k, &plan(), now).is_err(), "{bad}");
        }
        let ok = K8sArgs {
            k8s_name: Some("load-1".into()),
            ..args(2)
        };
        assert!(manifest(&ok, &plan(), now).is_ok());
    }
}
