//! Runs a stand-in for manual poking with kubectl:
//! `cargo run --example serve -- KUBECONFIG_PATH [LIST_JSON ...]`, then `KUBECONFIG=KUBECONFIG_PATH kubectl get ...`.
//! Runs until killed.

use kube_stand_in::{Options, StandIn};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let kubeconfig = args
        .next()
        .ok_or("usage: serve KUBECONFIG_PATH [LIST_JSON ...]")?;
    let stand_in = StandIn::start_with(Options {
        openshift: true,
        ..Options::default()
    })
    .await;
    for path in args {
        let count = stand_in.load_list(serde_json::from_str(&std::fs::read_to_string(&path)?)?)?;
        println!("loaded {count} objects from {path}");
    }
    stand_in.write_kubeconfig(&kubeconfig)?;
    println!("serving {} (kubeconfig {kubeconfig})", stand_in.url());
    std::future::pending::<()>().await;
    Ok(())
}
