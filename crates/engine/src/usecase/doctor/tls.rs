//! The TLS part of the diagnosis: is the certificate chain trusted, is the
//! certificate within its dates, is it issued for the host typed. OpenSSL (behind
//! native-tls) reports one problem per handshake, the first it meets, so the doctor
//! asks again with that problem set aside: a self-signed certificate is trusted
//! on a second try (the server's own certificate added as a root) to see whether it
//! is also expired or issued for another name; a name mismatch is retried without
//! the name check to see the dates. Nothing is parsed by hand: every answer is the
//! TLS library's own verdict.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use sockscope_client::connection::TlsOptions;
use sockscope_protocol::DoctorOutcome;

use super::DoctorError;

/// What one handshake said about the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    SelfSigned,
    UnknownIssuer,
    Expired,
    NotYetValid,
    NameMismatch,
    /// The port answered, but not with TLS (a plain HTTP server, most often).
    NotTls,
    Other(String),
}

fn classify(error: &str) -> Problem {
    let e = error.to_ascii_lowercase();
    if e.contains("hostname mismatch") || e.contains("ip address mismatch") {
        Problem::NameMismatch
    } else if e.contains("certificate has expired") {
        Problem::Expired
    } else if e.contains("not yet valid") {
        Problem::NotYetValid
    } else if e.contains("self-signed certificate in certificate chain")
        || e.contains("self signed certificate in certificate chain")
        || e.contains("unable to get local issuer")
        || e.contains("unable to get issuer")
        || e.contains("unable to verify the first certificate")
    {
        Problem::UnknownIssuer
    } else if e.contains("self-signed") || e.contains("self signed") {
        Problem::SelfSigned
    } else if e.contains("wrong version number")
        || e.contains("packet length too long")
        || e.contains("record layer failure")
        || e.contains("http request")
    {
        Problem::NotTls
    } else {
        Problem::Other(error.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// The three TLS checks and whether the rest of the doctor must skip certificate
/// checks to get any further.
#[derive(Debug, Clone)]
pub struct TlsFindings {
    pub chain: (DoctorOutcome, String),
    pub expiry: (DoctorOutcome, String),
    pub name: (DoctorOutcome, String),
    /// The certificate failed a check: later probes run with checks off, and the
    /// settings that connect include `--insecure`.
    pub needs_insecure: bool,
    /// No TLS at all on this port: nothing later can work over https.
    pub fatal: bool,
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// One handshake; the peer's certificate on success, the library's words on failure.
fn handshake(
    host: &str,
    addr: SocketAddr,
    connector: &native_tls::TlsConnector,
) -> Result<Option<native_tls::Certificate>, String> {
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(TIMEOUT))
        .and_then(|()| tcp.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    match connector.connect(host, tcp) {
        Ok(stream) => stream.peer_certificate().map_err(|e| e.to_string()),
        Err(native_tls::HandshakeError::Failure(e)) => Err(e.to_string()),
        Err(native_tls::HandshakeError::WouldBlock(_)) => {
            Err(std::io::Error::from(ErrorKind::TimedOut).to_string())
        }
    }
}

fn build(b: &mut native_tls::TlsConnectorBuilder) -> Result<native_tls::TlsConnector, DoctorError> {
    b.build()
        .map_err(|e| DoctorError::Tls(sockscope_client::Error::Tls(e.to_string())))
}

/// Runs the TLS checks against `addr` (blocking: call it off the runtime).
pub fn diagnose(
    host: &str,
    addr: SocketAddr,
    opts: &TlsOptions,
) -> Result<TlsFindings, DoctorError> {
    let ok = |s: String| (DoctorOutcome::Ok, s);
    let fail = |s: String| (DoctorOutcome::Fail, s);
    let skipped = |s: &str| (DoctorOutcome::Skipped, s.to_owned());
    if opts.insecure {
        let connector = opts.connector()?;
        return Ok(match handshake(host, addr, &connector) {
            Ok(_) => TlsFindings {
                chain: skipped("not checked (--insecure): the TLS handshake works, but anyone on the path could be answering"),
                expiry: skipped("not checked (--insecure)"),
                name: skipped("not checked (--insecure)"),
                needs_insecure: true,
                fatal: false,
            },
            Err(e) => failed_handshake(&classify(&e), &e),
        });
    }
    let connector = opts.connector()?;
    let first = match handshake(host, addr, &connector) {
        Ok(_) => {
            return Ok(TlsFindings {
                chain: ok("the certificate chain is trusted".to_owned()),
                expiry: ok("the certificate is within its validity dates".to_owned()),
                name: ok(format!("the certificate is issued for {host}")),
                needs_insecure: false,
                fatal: false,
            })
        }
        Err(e) => e,
    };
    let trust_hint = if opts.ca_cert.is_some() {
        "the --ca-cert given does not vouch for it"
    } else {
        "pass --ca-cert PEM with its issuer's certificate, or --insecure to skip the check"
    };
    let mut f = TlsFindings {
        chain: ok("the certificate chain is trusted".to_owned()),
        expiry: skipped("not known"),
        name: skipped("not known"),
        needs_insecure: true,
        fatal: false,
    };
    match classify(&first) {
        Problem::SelfSigned => {
            f.chain = fail(format!(
                "the certificate is self-signed and not trusted: {trust_hint}"
            ));
            // Trust the server's own certificate and ask again for dates and name.
            let mut insecure = opts.builder()?;
            insecure.danger_accept_invalid_certs(true);
            insecure.danger_accept_invalid_hostnames(true);
            match handshake(host, addr, &build(&mut insecure)?) {
                Ok(Some(leaf)) => {
                    let mut b = opts.builder()?;
                    b.add_root_certificate(leaf);
                    let second = handshake(host, addr, &build(&mut b)?).err();
                    dates_and_name(&mut f, host, second.as_deref(), opts, Some(&mut b), addr)?;
                }
                _ => {
                    f.expiry = skipped("cannot be checked: the certificate could not be read");
                    f.name = skipped("cannot be checked: the certificate could not be read");
                }
            }
        }
        Problem::UnknownIssuer => {
            f.chain = fail(format!(
                "the certificate is issued by an authority this machine does not trust: {trust_hint}"
            ));
            f.expiry = skipped("cannot be checked until the chain is trusted");
            f.name = skipped("cannot be checked until the chain is trusted");
        }
        Problem::Expired | Problem::NotYetValid | Problem::NameMismatch => {
            dates_and_name(&mut f, host, Some(&first), opts, None, addr)?;
        }
        other => return Ok(failed_handshake(&other, &first)),
    }
    Ok(f)
}

/// Fills the expiry and name checks from a handshake that trusted the chain
/// (`error`: what it failed at, `None`: it worked).
fn dates_and_name(
    f: &mut TlsFindings,
    host: &str,
    error: Option<&str>,
    opts: &TlsOptions,
    builder: Option<&mut native_tls::TlsConnectorBuilder>,
    addr: SocketAddr,
) -> Result<(), DoctorError> {
    let valid = || {
        (
            DoctorOutcome::Ok,
            "the certificate is within its validity dates".to_owned(),
        )
    };
    let expired = || {
        (
            DoctorOutcome::Fail,
            "the certificate has expired: the server needs a new one (or --insecure to connect anyway)"
                .to_owned(),
        )
    };
    let issued = || {
        (
            DoctorOutcome::Ok,
            format!("the certificate is issued for {host}"),
        )
    };
    match error.map(classify) {
        None => {
            f.expiry = valid();
            f.name = issued();
        }
        Some(Problem::Expired) => {
            f.expiry = expired();
            // OpenSSL checks the name before the dates: it passed.
            f.name = issued();
        }
        Some(Problem::NotYetValid) => {
            f.expiry = (
                DoctorOutcome::Fail,
                "the certificate is not valid yet (check this machine's clock)".to_owned(),
            );
            f.name = issued();
        }
        Some(Problem::NameMismatch) => {
            f.name = (
                DoctorOutcome::Fail,
                format!("the certificate is not issued for {host}: connect by a name it lists, or --insecure to skip the check"),
            );
            // Again without the name check, for the dates.
            let mut own;
            let b = match builder {
                Some(b) => b,
                None => {
                    own = opts.builder()?;
                    &mut own
                }
            };
            b.danger_accept_invalid_hostnames(true);
            f.expiry = match handshake(host, addr, &build(b)?)
                .err()
                .map(|e| classify(&e))
            {
                None => valid(),
                Some(Problem::Expired) => expired(),
                Some(_) => (DoctorOutcome::Skipped, "not known".to_owned()),
            };
        }
        Some(other) => {
            f.expiry = (
                DoctorOutcome::Skipped,
                format!("not known ({})", words(&other)),
            );
            f.name = (DoctorOutcome::Skipped, "not known".to_owned());
        }
    }
    Ok(())
}

fn words(p: &Problem) -> String {
    match p {
        Problem::Other(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn failed_handshake(problem: &Problem, raw: &str) -> TlsFindings {
    let skipped = (DoctorOutcome::Skipped, "cannot be checked".to_owned());
    let chain = match problem {
        Problem::NotTls => {
            "the server does not speak TLS on this port: try http:// instead of https://".to_owned()
        }
        _ => format!(
            "the TLS handshake failed: {}",
            raw.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    };
    TlsFindings {
        chain: (DoctorOutcome::Fail, chain),
        expiry: skipped.clone(),
        name: skipped,
        needs_insecure: false,
        fatal: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_reasons_are_told_apart() {
        let v = |r: &str| {
            format!("error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:ssl/statem/statem_clnt.c:2092: ({r})")
        };
        assert_eq!(classify(&v("self-signed certificate")), Problem::SelfSigned);
        assert_eq!(classify(&v("self signed certificate")), Problem::SelfSigned);
        assert_eq!(
            classify(&v("unable to get local issuer certificate")),
            Problem::UnknownIssuer
        );
        assert_eq!(
            classify(&v("self-signed certificate in certificate chain")),
            Problem::UnknownIssuer
        );
        assert_eq!(classify(&v("certificate has expired")), Problem::Expired);
        assert_eq!(classify(&v("hostname mismatch")), Problem::NameMismatch);
        assert_eq!(
            classify("error:0A00010B:SSL routines:ssl3_get_record:wrong version number"),
            Problem::NotTls
        );
        assert!(matches!(classify("connection reset"), Problem::Other(_)));
    }
}
