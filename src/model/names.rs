//! Names that fit Nautobot's length and uniqueness rules.
//!
//! Kubernetes names can be up to 253 characters and contain characters Nautobot shows badly
//! (control characters); Nautobot limits most names. A name that is too long is cut and given a
//! short hash of the full name, so two long names that share a prefix never collide and the
//! same input always gives the same output.

use uuid::Uuid;

use crate::model::ID_NAMESPACE;

/// Limit of most Nautobot names (Django `CHARFIELD_MAX_LENGTH`).
pub const NAME_MAX: usize = 255;
/// Limit of Tag names.
pub const TAG_MAX: usize = 100;
/// Limit of `IPAddress.dns_name`.
pub const DNS_NAME_MAX: usize = 255;
/// Limit of descriptions.
pub const DESCRIPTION_MAX: usize = 255;
/// Limit of `Device.serial`.
pub const SERIAL_MAX: usize = 255;

/// Cleans `s` (control characters become spaces, outer whitespace is trimmed) and fits it into
/// `max` characters, replacing the tail with `~` and 8 hex digits of a hash of the whole name
/// when it is too long.
pub fn fit(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim();
    if clean.chars().count() <= max {
        return clean.to_string();
    }
    let hash = Uuid::new_v5(&ID_NAMESPACE, clean.as_bytes())
        .simple()
        .to_string();
    let keep = max.saturating_sub(9);
    let mut out: String = clean.chars().take(keep).collect();
    out.push('~');
    out.push_str(&hash[..8]);
    out
}

/// Cuts a free text (description, comment) to `max` characters without a hash.
pub fn truncate(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim();
    match clean.char_indices().nth(max) {
        Some((i, _)) => clean[..i].to_string(),
        None => clean.to_string(),
    }
}

/// A DNS name safe for Nautobot's `dns_name` validator (`^[0-9A-Za-z._-]+$`): lower-cased,
/// other characters dropped, at most [`DNS_NAME_MAX`]; `None` if nothing is left.
pub fn dns_name(s: &str) -> Option<String> {
    let cleaned: String = s
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let cleaned = cleaned.trim_matches('.');
    (!cleaned.is_empty() && cleaned.len() <= DNS_NAME_MAX).then(|| cleaned.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(fit("ocp1/team-a", 100), "ocp1/team-a");
        assert_eq!(fit("  spaced\tname ", 100), "spaced name");
        assert_eq!(fit("équipe-données", 100), "équipe-données");
    }

    #[test]
    fn long_names_are_cut_with_a_hash_and_never_collide() {
        let a = format!("ocp1/ns/{}", "x".repeat(300));
        let b = format!("ocp1/ns/{}y", "x".repeat(300));
        let fa = fit(&a, 255);
        let fb = fit(&b, 255);
        assert_eq!(fa.chars().count(), 255);
        assert_eq!(fb.chars().count(), 255);
        assert_ne!(fa, fb);
        assert_eq!(fa, fit(&a, 255), "deterministic");
        assert!(fa.starts_with("ocp1/ns/xxx"));
        // multi-byte characters are cut on character boundaries
        let u = "é".repeat(300);
        assert_eq!(fit(&u, 100).chars().count(), 100);
    }

    #[test]
    fn dns_names_are_cleaned() {
        assert_eq!(
            dns_name("Web.Team-A.svc.cluster.local").as_deref(),
            Some("web.team-a.svc.cluster.local")
        );
        assert_eq!(dns_name("a b!c").as_deref(), Some("abc"));
        assert_eq!(dns_name("!!!"), None);
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("ab", 3), "ab");
    }
}
