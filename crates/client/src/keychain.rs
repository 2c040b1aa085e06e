//! Tokens for saved gateway targets live in the operating system's keychain, never
//! in SQLite, a log line or an export: macOS Keychain, Windows Credential Manager,
//! and on Linux the kernel key store (keyutils), which needs no desktop daemon.
//!
//! When the platform store is unavailable the caller gets a clear error and the token
//! is used for the one connection only; it is never written anywhere else instead.

use crate::{Error, Result};

/// The keychain service name, the app's identifier.
const SERVICE: &str = "dev.sockscope.console";

/// Call first thing in `main`, before any thread starts.
///
/// On Linux the token is kept in the user's persistent keyring, reached through the
/// session keyring. A process started outside a login session (a service, a
/// container, CI) has none, and keyutils then refuses to read back what it stored;
/// asking for the session keyring with "create" gives the process its own, which the
/// persistent keyring is linked into, so tokens still outlive the process. Keyrings
/// belong to a thread's credentials and are inherited only by threads started later,
/// hence "before any thread starts".
pub fn prepare() {
    ensure_session_keyring();
}

#[cfg(target_os = "linux")]
fn ensure_session_keyring() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use linux_keyutils::{KeyRing, KeyRingIdentifier};
        if let Err(error) = KeyRing::from_special_id(KeyRingIdentifier::Session, true) {
            tracing::warn!(
                ?error,
                "no session keyring: the keychain may be unavailable"
            );
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn ensure_session_keyring() {}

fn entry(target: &str) -> Result<keyring::Entry> {
    ensure_session_keyring();
    keyring::Entry::new(SERVICE, target).map_err(Error::Keychain)
}

/// Stores `token` as the token of target `target`, replacing any other.
pub fn save_token(target: &str, token: &str) -> Result<()> {
    entry(target)?
        .set_password(token)
        .map_err(Error::Keychain)?;
    tracing::info!(target_name = target, "token saved in the keychain");
    Ok(())
}

/// The stored token of `target`, if any.
pub fn token(target: &str) -> Result<Option<String>> {
    match entry(target)?.get_password() {
        Ok(t) => Ok(Some(t)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(Error::Keychain(e)),
    }
}

/// Forgets the token of `target`; forgetting a missing token is not an error.
pub fn delete_token(target: &str) -> Result<()> {
    match entry(target)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(Error::Keychain(e)),
    }
}
