//! The `nautobot-sync-operator` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use nbsync::{api, cli, telemetry};

/// Keeps Nautobot exact about what runs on a Kubernetes/OpenShift cluster: namespaces, nodes,
/// KubeVirt VMs, Deployments and Services.
#[derive(Parser, Debug)]
#[command(name = "nautobot-sync-operator", version, propagate_version = true)]
struct Cli {
    /// Log level or filter (RUST_LOG syntax, e.g. `info` or `nbsync=debug,kube=warn`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    log_level: String,
    /// Log format: `json` (default in a cluster) or `text`.
    #[arg(long, env = "LOG_FORMAT", value_enum, global = true)]
    log_format: Option<telemetry::LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the operator: watch the cluster and NautobotSync resources and keep Nautobot in sync.
    Run(cli::RunArgs),
    /// Print the NautobotSync CustomResourceDefinition as YAML.
    Crd,
    /// Show the Nautobot records a cluster snapshot projects to, without a cluster or Nautobot.
    ///
    /// The snapshot is the JSON of
    /// `oc get namespaces,nodes,pods,deployments,services,vm,vmi -A -o json`
    /// (optionally with `networks.config.openshift.io`, `clusterversions.config.openshift.io`
    /// and instancetypes in the same List).
    Plan(PlanArgs),
    /// Print the version.
    Version,
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    /// The snapshot file (a JSON `List`); `-` reads standard input.
    #[arg(long, short = 's')]
    snapshot: PathBuf,
    /// The NautobotSync manifest (YAML or JSON).
    #[arg(long = "filename", short = 'f')]
    nautobotsync: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: PlanOutput,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum PlanOutput {
    /// A readable table per kind.
    Table,
    /// The records as JSON.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", api::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("nautobot-sync-operator {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Plan(args) => {
            let result = cli::plan(
                &args.snapshot,
                &args.nautobotsync,
                matches!(args.output, PlanOutput::Json),
            );
            match result {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run(args) => {
            telemetry::init(
                &cli.log_level,
                cli.log_format.unwrap_or_else(telemetry::LogFormat::detect),
            );
            match cli::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "operator stopped");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
