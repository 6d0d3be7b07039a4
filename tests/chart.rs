//! The generated copies that ship with the Helm chart and the plain manifests stay in step with
//! the code. These need no helm; `scripts/check-chart.sh` renders and checks the chart itself
//! (and `scripts/check-chart.sh --update` rewrites these copies).

use std::path::Path;

fn read(p: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(p);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn chart_crd_template_is_the_generated_crd() {
    let crd = nbsync::api::crd_yaml();
    let template = read("charts/nautobot-sync-operator/templates/crd.yaml");
    let (_, after_comment) = template
        .split_once("*/ -}}\n")
        .expect("the template's header comment");
    // the body without the lines the template adds (if/end, labels, the keep annotation)
    let body: String = after_comment
        .lines()
        .filter(|l| {
            !l.contains("{{")
                && !matches!(
                    *l,
                    "  labels:" | "  annotations:" | "    helm.sh/resource-policy: keep"
                )
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        body == crd,
        "charts/nautobot-sync-operator/templates/crd.yaml is stale: run scripts/check-chart.sh --update"
    );
}

#[test]
fn plain_manifests_carry_the_generated_crd() {
    let crd = nbsync::api::crd_yaml();
    let body = crd
        .lines()
        .filter(|l| !l.starts_with('#') && *l != "---")
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        read("deploy/nautobot-sync-operator.yaml").contains(&body),
        "deploy/nautobot-sync-operator.yaml does not carry the current CRD: run scripts/check-chart.sh --update"
    );
}

#[test]
fn chart_app_version_is_the_crate_version() {
    let chart = read("charts/nautobot-sync-operator/Chart.yaml");
    let app_version = chart
        .lines()
        .find_map(|l| l.strip_prefix("appVersion:"))
        .map(|v| v.trim().trim_matches('"').to_string())
        .expect("Chart.yaml has an appVersion");
    assert_eq!(
        app_version,
        env!("CARGO_PKG_VERSION"),
        "charts/nautobot-sync-operator/Chart.yaml appVersion must equal the crate version"
    );
}
