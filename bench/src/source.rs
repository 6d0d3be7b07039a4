//! Where the cluster objects come from: the generator, or a `kind: List` file read as a stream
//! (one item in memory at a time, so that loading a large snapshot does not hold the whole
//! document next to what is measured).

use std::fmt;
use std::io::BufReader;
use std::path::PathBuf;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::synth::{self, Counts, Scale};

/// The objects to load.
#[derive(Debug, Clone)]
pub enum Source {
    /// A generated cluster.
    Generated { scale: Scale, seed: u64 },
    /// A `kind: List` JSON file.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Generated { scale, seed } => write!(
                f,
                "generated (seed {seed}): {} namespaces, {} nodes, {} pods + launchers, {} deployments, {} services, {} VMs",
                scale.namespaces,
                scale.nodes,
                scale.pods,
                scale.deployments,
                scale.services,
                scale.vms
            ),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Source {
    /// Hands every object to `f`; returns the count per kind.
    pub fn for_each(&self, f: &mut dyn FnMut(Value)) -> Result<Counts, String> {
        match self {
            Source::Generated { scale, seed } => Ok(synth::generate(scale, *seed, f)),
            Source::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                let mut counts = Counts::new();
                let mut each = |v: Value| {
                    let kind = kind_name(&v);
                    *counts.entry(kind).or_default() += 1;
                    f(v);
                };
                let mut de =
                    serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, file));
                ListSeed(&mut each)
                    .deserialize(&mut de)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(counts)
            }
        }
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v["kind"].as_str().unwrap_or("") {
        "Namespace" => "Namespace",
        "Node" => "Node",
        "Pod" => "Pod",
        "Deployment" => "Deployment",
        "Service" => "Service",
        "VirtualMachine" => "VirtualMachine",
        "VirtualMachineInstance" => "VirtualMachineInstance",
        "VirtualMachineClusterInstancetype" => "VirtualMachineClusterInstancetype",
        "VirtualMachineInstancetype" => "VirtualMachineInstancetype",
        "Network" => "Network",
        "ClusterVersion" => "ClusterVersion",
        _ => "other",
    }
}

/// The top-level object: only `items` is read, element by element.
struct ListSeed<'a>(&'a mut dyn FnMut(Value));

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a kind: List object with items")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(ItemsSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ItemsSeed<'a>(&'a mut dyn FnMut(Value));

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.0)(v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_file_is_read_item_by_item() {
        let dir = std::env::temp_dir().join(format!("nbsync-bench-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("list.json");
        std::fs::write(
            &path,
            r#"{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":[
                {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},
                {"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}}]}"#,
        )
        .unwrap();
        let mut names = Vec::new();
        let counts = Source::File(path)
            .for_each(&mut |v| names.push(v["metadata"]["name"].as_str().unwrap().to_string()))
            .unwrap();
        assert_eq!(names, ["a", "n"]);
        assert_eq!(counts["Namespace"], 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
