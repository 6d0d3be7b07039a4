//! The prerequisite objects records reference by name (statuses, roles, platforms, ...), with
//! their REST collection and name field.

use super::records::Ref;

/// The kinds of prerequisite objects, with their endpoint and the field holding their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrereqKind {
    /// Status
    Status,
    /// Role
    Role,
    /// Platform
    Platform,
    /// SoftwareVersion (of a platform: the name is `platform<TAB>version`; after platforms)
    SoftwareVersion,
    /// DeviceType
    DeviceType,
    /// Manufacturer
    Manufacturer,
    /// Location
    Location,
    /// ClusterType
    ClusterType,
    /// ClusterGroup
    ClusterGroup,
    /// TenantGroup
    TenantGroup,
    /// IpamNamespace
    IpamNamespace,
    /// CloudResourceType
    CloudResourceType,
}

impl PrereqKind {
    /// The prerequisite a reference names, and its name (`None` for our own records).
    pub fn of(r: &Ref) -> Option<(PrereqKind, &str)> {
        Some(match r {
            Ref::Record(_) => return None,
            Ref::Status(n) => (PrereqKind::Status, n),
            Ref::Role(n) => (PrereqKind::Role, n),
            Ref::Platform(n) => (PrereqKind::Platform, n),
            Ref::SoftwareVersion(n) => (PrereqKind::SoftwareVersion, n),
            Ref::DeviceType(n) => (PrereqKind::DeviceType, n),
            Ref::Manufacturer(n) => (PrereqKind::Manufacturer, n),
            Ref::Location(n) => (PrereqKind::Location, n),
            Ref::ClusterType(n) => (PrereqKind::ClusterType, n),
            Ref::ClusterGroup(n) => (PrereqKind::ClusterGroup, n),
            Ref::TenantGroup(n) => (PrereqKind::TenantGroup, n),
            Ref::IpamNamespace(n) => (PrereqKind::IpamNamespace, n),
            Ref::CloudResourceType(n) => (PrereqKind::CloudResourceType, n),
        })
    }
    /// The REST collection.
    pub fn endpoint(self) -> &'static str {
        match self {
            PrereqKind::Status => "extras/statuses/",
            PrereqKind::Role => "extras/roles/",
            PrereqKind::Platform => "dcim/platforms/",
            PrereqKind::SoftwareVersion => "dcim/software-versions/",
            PrereqKind::DeviceType => "dcim/device-types/",
            PrereqKind::Manufacturer => "dcim/manufacturers/",
            PrereqKind::Location => "dcim/locations/",
            PrereqKind::ClusterType => "virtualization/cluster-types/",
            PrereqKind::ClusterGroup => "virtualization/cluster-groups/",
            PrereqKind::TenantGroup => "tenancy/tenant-groups/",
            PrereqKind::IpamNamespace => "ipam/namespaces/",
            PrereqKind::CloudResourceType => "cloud/cloud-resource-types/",
        }
    }
    /// The field holding the name.
    pub fn name_field(self) -> &'static str {
        match self {
            PrereqKind::DeviceType => "model",
            PrereqKind::SoftwareVersion => "version",
            _ => "name",
        }
    }
    /// Whether it is scoped to content types.
    pub fn has_content_types(self) -> bool {
        matches!(
            self,
            PrereqKind::Status | PrereqKind::Role | PrereqKind::CloudResourceType
        )
    }
    /// How messages name it.
    pub fn label(self) -> &'static str {
        match self {
            PrereqKind::Status => "status",
            PrereqKind::Role => "role",
            PrereqKind::Platform => "platform",
            PrereqKind::SoftwareVersion => "software version",
            PrereqKind::DeviceType => "device type",
            PrereqKind::Manufacturer => "manufacturer",
            PrereqKind::Location => "location",
            PrereqKind::ClusterType => "cluster type",
            PrereqKind::ClusterGroup => "cluster group",
            PrereqKind::TenantGroup => "tenant group",
            PrereqKind::IpamNamespace => "IPAM namespace",
            PrereqKind::CloudResourceType => "cloud resource type",
        }
    }
}
