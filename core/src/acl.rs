//! ACL evaluation and authentication identities (ZooKeeper's `checkACL`, `fixupACL` and the
//! world/auth/digest/ip/super providers of `server/auth`).
//!
//! Invariant: `fixup` only returns non-empty, duplicate-free lists whose every entry names a
//! known scheme with a well-formed id, so every ACL stored in the tree is one `check` can
//! evaluate. `check` never grants to an unknown scheme.

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::error::KeeperError;
use crate::proto::{Acl, Id};

/// The identities a connection has proven, and whether it is the super user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthContext {
    pub ids: Vec<Id>,
    pub is_super: bool,
}

/// `user:base64(sha1("user:password"))` for an auth string `user:password`.
///
/// The hash covers the whole `user:password` text, as `DigestAuthenticationProvider` does.
pub fn digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{b64}")
}

/// True when `auth` holds `perm` on a node with `acl` (super and skipACL bypass).
pub fn check(acl: &[Acl], auth: &AuthContext, perm: i32, skip_acl: bool) -> bool {
    if skip_acl || auth.is_super {
        return true;
    }
    // ZooKeeper treats a node without ACL entries as open to all.
    if acl.is_empty() {
        return true;
    }
    for entry in acl {
        if entry.perms & perm == 0 {
            continue;
        }
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            return true;
        }
        for own in auth.ids.iter().filter(|own| own.scheme == id.scheme) {
            let matched = match id.scheme.as_str() {
                "ip" => ip_matches(&id.id, &own.id),
                "digest" | "sasl" | "x509" => own.id == id.id,
                _ => false,
            };
            if matched {
                return true;
            }
        }
    }
    false
}

/// Validates an ACL list for create/setACL and expands `auth` entries (`fixupACL`).
pub fn fixup(acl: &[Acl], auth: &AuthContext) -> Result<Vec<Acl>, KeeperError> {
    if acl.is_empty() {
        return Err(KeeperError::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    let push = |a: Acl, out: &mut Vec<Acl>| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for entry in acl {
        match entry.id.scheme.as_str() {
            "world" if entry.id.id == "anyone" => push(entry.clone(), &mut out),
            "auth" => {
                // Expanded to every authenticated id of the caller; ip is not authenticated.
                let mut any = false;
                for own in auth.ids.iter().filter(|own| is_authenticated_scheme(&own.scheme)) {
                    push(Acl { perms: entry.perms, id: own.clone() }, &mut out);
                    any = true;
                }
                if !any {
                    return Err(KeeperError::InvalidAcl);
                }
            }
            "digest" if entry.id.id.matches(':').count() == 1 => push(entry.clone(), &mut out),
            "ip" if parse_ip_spec(&entry.id.id).is_some() => push(entry.clone(), &mut out),
            "sasl" | "x509" if !entry.id.id.is_empty() => push(entry.clone(), &mut out),
            _ => return Err(KeeperError::InvalidAcl),
        }
    }
    debug_assert!(!out.is_empty());
    Ok(out)
}

/// Masks an ACL list for a getACL caller without ADMIN: every digest id becomes `user:x`.
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl { perms: a.perms, id: Id::new("digest", &format!("{user}:x")) }
            } else {
                a.clone()
            }
        })
        .collect()
}

/// True when `user_password` authenticates as the configured super digest
/// (`super:<base64 sha1>`).
pub fn is_super_digest(user_password: &str, super_digest: Option<&str>) -> bool {
    super_digest.is_some_and(|d| digest(user_password) == d)
}

fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "sasl" | "x509")
}

/// Parses `addr[/bits]` into an address and prefix length.
fn parse_ip_spec(spec: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match spec.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (spec, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((ip, bits))
}

/// True when the client address `client` lies in the ACL's `addr[/bits]`.
fn ip_matches(spec: &str, client: &str) -> bool {
    let Some((net, bits)) = parse_ip_spec(spec) else { return false };
    let Ok(client) = client.parse::<IpAddr>() else { return false };
    match (net, client) {
        (IpAddr::V4(n), IpAddr::V4(c)) => prefix_eq(&n.octets(), &c.octets(), bits),
        (IpAddr::V6(n), IpAddr::V6(c)) => prefix_eq(&n.octets(), &c.octets(), bits),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xFFu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::perms;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl { perms, id: Id::new(scheme, id) }
    }

    #[test]
    fn digest_of_super_test_matches_zookeeper() {
        assert_eq!(digest("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }

    #[test]
    fn world_anyone_grants_only_listed_perms() {
        let a = Acl::read_unsafe();
        let who = AuthContext::default();
        assert!(check(&a, &who, perms::READ, false));
        assert!(!check(&a, &who, perms::WRITE, false));
        assert!(check(&a, &who, perms::WRITE, true));
        assert!(check(&a, &AuthContext { ids: vec![], is_super: true }, perms::WRITE, false));
    }

    #[test]
    fn digest_and_ip_cidr_match() {
        let d = digest("bob:pw");
        let a = vec![acl(perms::ALL, "digest", &d), acl(perms::READ, "ip", "10.1.0.0/16")];
        let bob = AuthContext { ids: vec![Id::new("digest", &d)], is_super: false };
        let near = AuthContext { ids: vec![Id::new("ip", "10.1.2.3")], is_super: false };
        let far = AuthContext { ids: vec![Id::new("ip", "10.2.2.3")], is_super: false };
        assert!(check(&a, &bob, perms::ADMIN, false));
        assert!(check(&a, &near, perms::READ, false));
        assert!(!check(&a, &near, perms::WRITE, false));
        assert!(!check(&a, &far, perms::READ, false));
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(ip_matches("10.1.2.0/23", "10.1.3.9"));
        assert!(!ip_matches("10.1.2.0/24", "10.1.3.9"));
        assert!(ip_matches("::1", "::1"));
    }

    #[test]
    fn fixup_validates_and_expands() {
        let none = AuthContext::default();
        assert_eq!(fixup(&[], &none), Err(KeeperError::InvalidAcl));
        assert_eq!(fixup(&Acl::creator_all(), &none), Err(KeeperError::InvalidAcl));
        assert_eq!(fixup(&[acl(1, "world", "bob")], &none), Err(KeeperError::InvalidAcl));
        assert_eq!(fixup(&[acl(1, "digest", "a:b:c")], &none), Err(KeeperError::InvalidAcl));
        assert_eq!(fixup(&[acl(1, "ip", "1.2.3")], &none), Err(KeeperError::InvalidAcl));
        assert_eq!(fixup(&[acl(1, "nope", "x")], &none), Err(KeeperError::InvalidAcl));
        let twice = [Acl::open_unsafe(), Acl::open_unsafe()].concat();
        assert_eq!(fixup(&twice, &none), Ok(Acl::open_unsafe()));
        let who = AuthContext {
            ids: vec![Id::new("ip", "1.2.3.4"), Id::new("digest", "u:h")],
            is_super: false,
        };
        assert_eq!(fixup(&Acl::creator_all(), &who), Ok(vec![acl(31, "digest", "u:h")]));
    }

    #[test]
    fn mask_hides_digest_hashes() {
        let a = vec![acl(1, "digest", "u:h"), acl(1, "world", "anyone")];
        assert_eq!(mask_digests(&a), vec![acl(1, "digest", "u:x"), acl(1, "world", "anyone")]);
    }
}
