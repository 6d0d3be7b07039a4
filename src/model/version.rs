//! Which Nautobot the operator talks to, and what that changes: the REST API version it speaks
//! (negotiated from the server's own `API-Version`) and the few places where Nautobot 2.4 and
//! 3.x store the same thing differently. Pure: no I/O.
//!
//! Nautobot answers a request without a version in its `Accept` header with its newest REST API
//! version in the `API-Version` response header (`nautobot/core/api/views.py`,
//! `NautobotAPIVersionMixin`); 2.4.x knows 2.0 to 2.4, 3.2.x knows 2.0 to 2.4 and 3.0 to 3.2
//! (`REST_FRAMEWORK_ALLOWED_VERSIONS`, `nautobot/core/settings.py`). A version it does not know
//! is refused with 406 before the token is looked at (`nautobot/core/api/versioning.py`).

use std::fmt;

/// A REST API version, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// The major version: the Nautobot release series (2 or 3).
    pub major: u16,
    /// The minor version.
    pub minor: u16,
}

impl ApiVersion {
    /// Nautobot 2.4 LTM.
    pub const V2_4: ApiVersion = ApiVersion { major: 2, minor: 4 };
    /// Nautobot 3.2.
    pub const V3_2: ApiVersion = ApiVersion { major: 3, minor: 2 };
    /// The oldest version the operator speaks.
    pub const OLDEST: ApiVersion = ApiVersion::V2_4;
    /// The newest version the operator speaks; a newer server is spoken to in this one, which
    /// every 3.x server still accepts.
    pub const NEWEST: ApiVersion = ApiVersion::V3_2;

    /// Parses `"3.2"`; `None` for anything else.
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.trim().split_once('.')?;
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    /// Packed into one number (for an atomic), never 0.
    pub(crate) fn pack(self) -> u32 {
        (u32::from(self.major) << 16) | u32::from(self.minor)
    }

    /// The inverse of [`ApiVersion::pack`].
    pub(crate) fn unpack(v: u32) -> Option<ApiVersion> {
        (v != 0).then_some(ApiVersion {
            major: (v >> 16) as u16,
            minor: (v & 0xffff) as u16,
        })
    }

    /// What the operator supports, for messages: "2.4 to 3.x".
    pub fn supported_range() -> String {
        format!("{} to {}.x", ApiVersion::OLDEST, ApiVersion::NEWEST.major)
    }

    /// Nautobot 3.0 replaced a device's one `cluster` with many, through DeviceClusterAssignment
    /// objects (`dcim/device-cluster-assignments/`, Nautobot 3.0 release notes, #7203); 2.4 keeps
    /// the `cluster` field on the device (`nautobot/dcim/models/devices.py` at v2.4.44).
    pub fn has_device_cluster_assignments(self) -> bool {
        self.major >= 3
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The Nautobot the operator speaks to: its release, when it said, and the REST API version
/// negotiated with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The release, `nautobot-version` of `/api/status/` (for example `2.4.44`); `None` when
    /// that endpoint did not answer.
    pub release: Option<String>,
    /// The REST API version spoken.
    pub api: ApiVersion,
}

impl Server {
    /// `Nautobot 2.4.44 (REST API 2.4)`, or `Nautobot (REST API 2.4)` without a release.
    pub fn describe(&self) -> String {
        match &self.release {
            Some(r) => format!("Nautobot {r} (REST API {})", self.api),
            None => format!("Nautobot (REST API {})", self.api),
        }
    }
}

/// Why a server cannot be spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The server's newest version is older than [`ApiVersion::OLDEST`].
    TooOld(ApiVersion),
    /// A major version the operator does not know (4.x and later).
    UnknownMajor(ApiVersion),
    /// No `API-Version` header, or not `major.minor`.
    Unreadable(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooOld(v) => write!(
                f,
                "the server's newest REST API version is {v}: Nautobot {v} is older than the \
                 oldest supported, {}",
                ApiVersion::OLDEST
            ),
            Refusal::UnknownMajor(v) => write!(
                f,
                "the server speaks REST API {v}, a release series this operator does not know"
            ),
            Refusal::Unreadable(h) => write!(
                f,
                "the server answered /api/ with API-Version {h:?}, which is not a Nautobot version"
            ),
        }
    }
}

/// The version to speak to a server whose newest is `server` (its `API-Version` header when
/// asked without a version): its own within the supported range, [`ApiVersion::NEWEST`] for a
/// newer 3.x, refused below [`ApiVersion::OLDEST`] or in an unknown release series.
pub fn negotiate(server: Option<&str>) -> Result<ApiVersion, Refusal> {
    let raw = server.unwrap_or("");
    let v = ApiVersion::parse(raw).ok_or_else(|| Refusal::Unreadable(raw.to_string()))?;
    if v < ApiVersion::OLDEST {
        Err(Refusal::TooOld(v))
    } else if v.major > ApiVersion::NEWEST.major {
        Err(Refusal::UnknownMajor(v))
    } else {
        Ok(v.min(ApiVersion::NEWEST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u16, minor: u16) -> ApiVersion {
        ApiVersion { major, minor }
    }

    #[test]
    fn speaks_the_servers_version_within_the_range() {
        assert_eq!(negotiate(Some("2.4")), Ok(ApiVersion::V2_4));
        assert_eq!(negotiate(Some("3.0")), Ok(v(3, 0)));
        assert_eq!(negotiate(Some("3.2")), Ok(ApiVersion::V3_2));
        // a newer 3.x still accepts 3.2
        assert_eq!(negotiate(Some("3.5")), Ok(ApiVersion::V3_2));
    }

    #[test]
    fn refuses_what_is_outside_with_the_range_in_the_message() {
        let e = negotiate(Some("2.3")).unwrap_err();
        assert_eq!(e, Refusal::TooOld(v(2, 3)));
        assert!(
            e.to_string()
                .contains("Nautobot 2.3 is older than the oldest supported, 2.4")
        );
        assert_eq!(negotiate(Some("1.6")), Err(Refusal::TooOld(v(1, 6))));
        assert_eq!(negotiate(Some("4.0")), Err(Refusal::UnknownMajor(v(4, 0))));
        for bad in [None, Some(""), Some("3"), Some("three.two"), Some("3.2.7x")] {
            let e = negotiate(bad).unwrap_err();
            assert!(matches!(e, Refusal::Unreadable(_)), "{bad:?}: {e:?}");
            assert!(e.to_string().contains("not a Nautobot version"));
        }
    }

    #[test]
    fn parses_packs_and_orders() {
        assert_eq!(ApiVersion::parse(" 2.4 "), Some(ApiVersion::V2_4));
        assert_eq!(ApiVersion::parse("2.10").unwrap().minor, 10);
        assert!(v(2, 10) > v(2, 4) && v(3, 0) > v(2, 10));
        for x in [ApiVersion::V2_4, ApiVersion::V3_2, v(0, 0)] {
            if x.pack() != 0 {
                assert_eq!(ApiVersion::unpack(x.pack()), Some(x));
            }
        }
        assert_eq!(ApiVersion::unpack(0), None);
        assert_eq!(ApiVersion::V2_4.to_string(), "2.4");
        assert!(!ApiVersion::V2_4.has_device_cluster_assignments());
        assert!(ApiVersion::V3_2.has_device_cluster_assignments());
    }
}
