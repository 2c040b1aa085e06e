//! The tenant report as `admin URL audit` and `audit tenants` print it: a leaf
//! module both commands share, so neither imports the other for it.

use std::io::Write;

use sockscope_engine::admin_client::tenants::TenantReport;

use crate::output;

/// Tenants with their sockets, then one line per finding and a count.
pub fn print(report: &TenantReport, json: bool) -> std::io::Result<()> {
    output::report(report, json, |out, r| {
        for (t, sockets) in &r.tenants {
            writeln!(out, "tenant {t}: {}", sockets.join(", "))?;
        }
        if !r.untenanted.is_empty() {
            writeln!(out, "no tenant: {}", r.untenanted.join(", "))?;
        }
        for f in &r.findings {
            writeln!(out, "{}", f.line())?;
        }
        writeln!(out, "{} finding(s)", r.findings.len())
    })
}
