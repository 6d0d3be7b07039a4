//! Operating systems: one Nautobot Platform per OS family, whatever spelling names it, and the
//! version apart (for Nautobot's SoftwareVersion), so that a minor update never makes a new
//! Platform.
//!
//! The spellings, by source:
//! - the `vm.kubevirt.io/os` annotation of the OpenShift templates (kubevirt/common-templates
//!   `templates/*.tpl.yaml`): `rhel9`, `centos-stream9`, `fedora`, `windows2k22`, `windows11`...;
//! - the common-instancetypes preference names (kubevirt/common-instancetypes `preferences/`):
//!   `rhel.9`, `rhel.9.desktop`, `centos.stream9`, `windows.2k22.virtio`, `opensuse.leap`...;
//! - the guest agent's `status.guestOSInfo` (qemu-ga `guest-get-osinfo`: os-release `ID`,
//!   `NAME`, `VERSION_ID`, `PRETTY_NAME`; on Windows `id: mswindows`, `name: Microsoft Windows`,
//!   the edition in `prettyName`/`version`).

/// An OS: the Platform's name and, when known, the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Os {
    /// The family: the Nautobot Platform.
    pub family: String,
    /// `9`, `9.4`, `2022`...
    pub version: Option<String>,
}

/// The families, by the identifiers that name them (template OS, preference and os-release ID
/// prefixes, lower case), longest first where one is a prefix of another.
const FAMILIES: &[(&str, &str)] = &[
    ("rhel", "Red Hat Enterprise Linux"),
    ("redhat", "Red Hat Enterprise Linux"),
    ("rhcos", "Red Hat Enterprise Linux CoreOS"),
    ("centos-stream", "CentOS Stream"),
    ("centos.stream", "CentOS Stream"),
    ("centosstream", "CentOS Stream"),
    ("centos", "CentOS"),
    ("fedora", "Fedora"),
    ("ubuntu", "Ubuntu"),
    ("debian", "Debian"),
    ("opensuse", "openSUSE"),
    ("sles", "SUSE Linux Enterprise Server"),
    ("sle", "SUSE Linux Enterprise Server"),
    ("oraclelinux", "Oracle Linux"),
    ("ol", "Oracle Linux"),
    ("rocky", "Rocky Linux"),
    ("almalinux", "AlmaLinux"),
    ("alpine", "Alpine Linux"),
    ("cirros", "CirrOS"),
    ("freebsd", "FreeBSD"),
];

/// Windows Server editions as the templates and preferences abbreviate them.
const WINDOWS_SERVER: &[&str] = &["2k3", "2k8", "2k12", "2k16", "2k19", "2k22", "2k25"];

/// A template annotation (`rhel9`, `windows2k22`) or a preference name (`rhel.9.desktop`,
/// `windows.2k22.virtio`).
pub fn from_declared(s: &str) -> Option<Os> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix("windows") {
        return Some(windows(rest.trim_start_matches(['.', '-', '_'])));
    }
    if let Some(rest) = s.strip_prefix("win") {
        return Some(windows(rest.trim_start_matches(['.', '-', '_'])));
    }
    for (prefix, family) in FAMILIES {
        if let Some(raw) = s.strip_prefix(prefix) {
            // a prefix only counts at a word boundary or a version: `ol` is not `oldstyle`
            if !(raw.is_empty()
                || raw.starts_with(['.', '-', '_'])
                || raw.starts_with(|c: char| c.is_ascii_digit()))
            {
                continue;
            }
            let rest = raw.trim_start_matches(['.', '-', '_']);
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let version = version.trim_end_matches('.').to_string();
            return Some(Os {
                family: family.to_string(),
                version: (!version.is_empty()).then_some(version),
            });
        }
    }
    None
}

/// `2k22`, `2k22.virtio`, `11`, `10.virtio`: Server editions are `Microsoft Windows Server`,
/// the others `Microsoft Windows`.
fn windows(rest: &str) -> Os {
    let edition = rest.split(['.', '-', '_']).next().unwrap_or("");
    if WINDOWS_SERVER.contains(&edition) {
        let year = match &edition[2..] {
            y if y.len() == 1 => format!("200{y}"),
            y => format!("20{y}"),
        };
        return Os {
            family: "Microsoft Windows Server".into(),
            version: Some(year),
        };
    }
    Os {
        family: "Microsoft Windows".into(),
        version: edition
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
            .then(|| edition.to_string())
            .filter(|e| !e.is_empty()),
    }
}

/// The guest agent's OS (`status.guestOSInfo`): `id` (os-release `ID`), `name`, `versionId`,
/// `prettyName`, `version`.
pub fn from_guest(
    id: Option<&str>,
    name: Option<&str>,
    version_id: Option<&str>,
    pretty_name: Option<&str>,
    version: Option<&str>,
) -> Option<Os> {
    fn clean(s: Option<&str>) -> Option<&str> {
        s.map(str::trim)
            .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("N/A"))
    }
    let (id, name, version_id, pretty) = (
        clean(id),
        clean(name),
        clean(version_id),
        clean(pretty_name),
    );
    if id == Some("mswindows") || name.is_some_and(|n| n.starts_with("Microsoft Windows")) {
        // "Windows Server 2022 Datacenter", version "Microsoft Windows Server 2019"
        let text = [pretty, clean(version), name]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let server = text.contains("Server");
        let year = text
            .split_whitespace()
            .find(|w| w.len() == 4 && w.starts_with("20") && w.chars().all(|c| c.is_ascii_digit()));
        let desktop = text
            .split_whitespace()
            .skip_while(|w| *w != "Windows")
            .nth(1)
            .filter(|w| w.chars().all(|c| c.is_ascii_digit()));
        return Some(Os {
            family: if server {
                "Microsoft Windows Server"
            } else {
                "Microsoft Windows"
            }
            .into(),
            version: if server { year } else { desktop }
                .map(String::from)
                .or_else(|| version_id.map(String::from)),
        });
    }
    // the name first where the table knows it (os-release `ID=centos` is CentOS Stream too,
    // `NAME="CentOS Stream"`), then the ID
    let slug = |n: &str| n.to_ascii_lowercase().replace(' ', "-");
    let known = name
        .and_then(|n| from_declared(&slug(n)))
        .or_else(|| id.and_then(from_declared))
        .map(|os| os.family);
    let family = known.or_else(|| name.map(String::from)).or_else(|| {
        // the pretty name without its version: "Arch Linux"
        pretty.map(|p| {
            p.split_whitespace()
                .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit() || c == '('))
                .collect::<Vec<_>>()
                .join(" ")
        })
    })?;
    (!family.is_empty()).then(|| Os {
        family,
        version: version_id.map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(family: &str, version: Option<&str>) -> Option<Os> {
        Some(Os {
            family: family.into(),
            version: version.map(String::from),
        })
    }

    #[test]
    fn every_spelling_of_a_family_is_one_platform() {
        let rhel = "Red Hat Enterprise Linux";
        assert_eq!(from_declared("rhel9"), os(rhel, Some("9")));
        assert_eq!(from_declared("rhel.9"), os(rhel, Some("9")));
        assert_eq!(from_declared("rhel.9.desktop"), os(rhel, Some("9")));
        assert_eq!(from_declared("rhel9.4"), os(rhel, Some("9.4")));
        assert_eq!(from_declared("rhel.10.arm64"), os(rhel, Some("10")));
        let agent = |v| {
            from_guest(
                Some("rhel"),
                Some("Red Hat Enterprise Linux"),
                Some(v),
                None,
                None,
            )
        };
        assert_eq!(agent("9.4"), os(rhel, Some("9.4")));
        assert_eq!(agent("9.5"), os(rhel, Some("9.5")));
        assert_eq!(
            from_declared("centos-stream9"),
            os("CentOS Stream", Some("9"))
        );
        assert_eq!(
            from_declared("centos.stream10.desktop"),
            os("CentOS Stream", Some("10"))
        );
        assert_eq!(from_declared("centos6"), os("CentOS", Some("6")));
        assert_eq!(from_declared("fedora"), os("Fedora", None));
        assert_eq!(from_declared("fedora.arm64"), os("Fedora", None));
        assert_eq!(from_declared("ubuntu"), os("Ubuntu", None));
        assert_eq!(from_declared("opensuse.leap"), os("openSUSE", None));
        assert_eq!(
            from_declared("sles"),
            os("SUSE Linux Enterprise Server", None)
        );
        assert_eq!(from_declared("oraclelinux"), os("Oracle Linux", None));
        assert_eq!(
            from_guest(Some("ubuntu"), Some("Ubuntu"), Some("22.04"), None, None),
            os("Ubuntu", Some("22.04"))
        );
        assert_eq!(
            from_guest(Some("centos"), Some("CentOS Stream"), Some("9"), None, None),
            os("CentOS Stream", Some("9"))
        );
        assert_eq!(from_declared("something-new"), None);
        assert_eq!(from_declared(""), None);
        assert_eq!(from_declared("oldstyle"), None);
        // an OS this table does not know keeps the agent's name
        assert_eq!(
            from_guest(
                Some("arch"),
                Some("Arch Linux"),
                None,
                Some("Arch Linux"),
                None
            ),
            os("Arch Linux", None)
        );
    }

    #[test]
    fn windows_server_and_desktop_are_two_families() {
        let server = "Microsoft Windows Server";
        assert_eq!(from_declared("windows2k22"), os(server, Some("2022")));
        assert_eq!(
            from_declared("windows.2k22.virtio"),
            os(server, Some("2022"))
        );
        assert_eq!(from_declared("windows.2k8"), os(server, Some("2008")));
        assert_eq!(from_declared("win2k19"), os(server, Some("2019")));
        assert_eq!(
            from_declared("windows11"),
            os("Microsoft Windows", Some("11"))
        );
        assert_eq!(
            from_declared("windows.10.virtio"),
            os("Microsoft Windows", Some("10"))
        );
        // qemu-ga on Windows (values seen from real agents)
        assert_eq!(
            from_guest(
                Some("mswindows"),
                Some("Microsoft Windows"),
                Some("2019"),
                Some("Windows Server 2019 Standard"),
                Some("Microsoft Windows Server 2019")
            ),
            os(server, Some("2019"))
        );
        assert_eq!(
            from_guest(
                Some("mswindows"),
                Some("Microsoft Windows"),
                Some("N/A"),
                Some("Windows Server 2022 Datacenter"),
                Some("N/A")
            ),
            os(server, Some("2022"))
        );
        assert_eq!(
            from_guest(
                Some("mswindows"),
                Some("Microsoft Windows"),
                None,
                Some("Windows 10 Pro"),
                None
            ),
            os("Microsoft Windows", Some("10"))
        );
    }
}
