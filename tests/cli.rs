//! The command line as a user runs it: `crd`, `plan`, `version`, `--help`.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nautobot-sync-operator"))
}

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

#[test]
fn committed_crd_matches_the_code() {
    let out = bin().arg("crd").output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed, nbsync::api::crd_yaml());
    let committed = std::fs::read_to_string(repo("crds/nbsync.dev_nautobotsyncs.yaml")).unwrap();
    assert!(
        committed == printed,
        "crds/nbsync.dev_nautobotsyncs.yaml is stale: run `cargo run -- crd > crds/nbsync.dev_nautobotsyncs.yaml`"
    );
}

#[test]
fn plan_prints_the_sample_as_a_table_and_as_json() {
    let out = bin()
        .args([
            "plan",
            "--snapshot",
            &repo("examples/snapshot.json"),
            "-f",
            &repo("examples/nautobotsync.yaml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "VirtualMachine (6)",
        "shop-prod/fedora-db-01",
        // the isolated networks' IPAM namespaces
        "ocp-lab/shop-prod/vlan100",
        "ocp-lab/tenant-blue",
        "ocp-lab/shop-prod",
        "Kubernetes Deployment",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
    let out = bin()
        .args([
            "plan",
            "-s",
            &repo("examples/snapshot.json"),
            "-f",
            &repo("examples/nautobotsync.yaml"),
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = doc["records"].as_array().unwrap();
    assert!(records.len() > 50);
    assert!(
        records
            .iter()
            .all(|r| r["id"].as_str().is_some_and(|id| id.len() == 36))
    );
}

#[test]
fn plan_explains_bad_input() {
    let dir = std::env::temp_dir().join(format!("nbsync-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_sync = dir.join("bad.yaml");
    std::fs::write(
        &bad_sync,
        "apiVersion: nbsync.dev/v1alpha1\nkind: NautobotSync\nmetadata: {name: x}\nspec:\n  clusterName: c\n  nautobot: {url: 'https://n', tokenSecretRef: {name: t}}\n  placement: {location: l}\n  namespaceFilter: {include: ['(']}\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "plan",
            "-s",
            &repo("examples/snapshot.json"),
            "-f",
            bad_sync.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "errors exit 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.namespaceFilter.include[0]"), "{err}");

    let out = bin()
        .args([
            "plan",
            "-s",
            "/nonexistent/snapshot.json",
            "-f",
            &repo("examples/nautobotsync.yaml"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "errors exit 1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_lists_the_exit_codes_and_completions_print() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("2  `plan --nautobot`: changes are pending"),
        "{help}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("nautobot-sync-operator") && script.contains("plan"),
            "{shell}: {script}"
        );
    }
}

#[test]
fn every_subcommand_has_help_and_version_prints() {
    for sub in ["run", "crd", "plan", "apply", "completions", "version"] {
        let out = bin().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help");
        assert!(!out.stdout.is_empty());
    }
    let out = bin().arg("version").output().unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("nautobot-sync-operator 0.")
    );
}

#[test]
fn example_manifests_are_valid_nautobotsyncs() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("kind: NautobotSync") {
            continue;
        }
        let obj: nbsync::api::NautobotSync =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        nbsync::config::SyncConfig::from_spec(&obj.spec)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert!(seen >= 1);
}
