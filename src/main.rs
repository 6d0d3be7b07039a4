//! The `nautobot-sync-operator` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use nbsync::runtime::telemetry;
use nbsync::{api, cli};

/// The exit codes, as `--help` shows them (and the README).
const EXIT_CODES: &str = "\
Exit codes:
  0  done; `plan --nautobot`: nothing to change
  1  an error (a bad file or spec, Nautobot unreachable or refusing the token, a pass that
     stopped early), or `apply` could not write some objects (the report names them)
  2  `plan --nautobot`: changes are pending (held deletions included)";

/// Keeps Nautobot exact about what runs on a Kubernetes/OpenShift cluster: namespaces, nodes,
/// KubeVirt VMs, Deployments and Services.
#[derive(Parser, Debug)]
#[command(
    name = "nautobot-sync-operator",
    version,
    propagate_version = true,
    after_help = EXIT_CODES
)]
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
    /// `oc get namespaces,nodes,pods,deployments,statefulsets,daemonsets,services,routes,ingresses,pvc,datavolumes,vm,vmi,controllerrevisions -A -o json`
    /// (optionally with `networks.config.openshift.io`, `clusterversions.config.openshift.io`,
    /// `consoles.config.openshift.io` and instancetypes in the same List).
    Plan(PlanArgs),
    /// Sync a snapshot file into Nautobot once: bootstrap, diff and write the changes.
    ///
    /// The same pass the operator runs, without a cluster: useful for a first import, in
    /// pipelines, and to check a Nautobot before installing the operator.
    Apply(ApplyArgs),
    /// Print the version.
    Version,
    /// Print a shell completion script (`source <(nautobot-sync-operator completions bash)`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Debug)]
struct NautobotArgs {
    /// Nautobot base URL; with `plan`, the changes against this Nautobot are shown (nothing is
    /// written).
    #[arg(long)]
    nautobot: Option<String>,
    /// File holding the API token (default: the NAUTOBOT_TOKEN environment variable).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Trust this PEM CA bundle for Nautobot's certificate.
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// Skip TLS verification (never in production).
    #[arg(long)]
    insecure_skip_tls_verify: bool,
}

#[derive(clap::Args, Debug)]
struct ApplyArgs {
    /// The snapshot file (a JSON `List`); `-` reads standard input.
    #[arg(long, short = 's')]
    snapshot: PathBuf,
    /// The NautobotSync manifest (YAML or JSON).
    #[arg(long = "filename", short = 'f')]
    nautobotsync: PathBuf,
    #[command(flatten)]
    nautobot: NautobotArgs,
    /// Allow this pass to delete more than the mass-deletion guard allows.
    #[arg(long)]
    allow_mass_deletion: bool,
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
    #[command(flatten)]
    nautobot: NautobotArgs,
}

impl NautobotArgs {
    fn connection(&self) -> Result<Option<cli::Connection>, cli::CliError> {
        let Some(url) = &self.nautobot else {
            return Ok(None);
        };
        let token = match &self.token_file {
            Some(p) => std::fs::read_to_string(p).map_err(|source| cli::CliError::Read {
                path: p.clone(),
                source,
            })?,
            None => std::env::var("NAUTOBOT_TOKEN").map_err(|_| cli::CliError::NoToken)?,
        };
        let ca_bundle = match &self.ca_bundle {
            Some(p) => Some(std::fs::read(p).map_err(|source| cli::CliError::Read {
                path: p.clone(),
                source,
            })?),
            None => None,
        };
        Ok(Some(cli::Connection {
            url: url.clone(),
            token,
            ca_bundle,
            insecure: self.insecure_skip_tls_verify,
        }))
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum PlanOutput {
    /// A readable table per kind.
    Table,
    /// The records as JSON.
    Json,
}

/// Prints a command's text and ends with its exit code, or prints its error on stderr and
/// exits 1 ([`EXIT_CODES`]).
fn print_result(result: Result<(String, cli::Exit), cli::CliError>) -> ExitCode {
    match result {
        Ok((text, exit)) => {
            print!("{text}");
            if let cli::Exit::Failed(n) = exit {
                eprintln!("error: {n} object(s) could not be written (see the report)");
            }
            ExitCode::from(exit.code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", api::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "nautobot-sync-operator",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("nautobot-sync-operator {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Plan(args) => {
            let json = matches!(args.output, PlanOutput::Json);
            let result = args.nautobot.connection().and_then(|conn| match conn {
                None => cli::plan(&args.snapshot, &args.nautobotsync, json)
                    .map(|text| (text, cli::Exit::Clean)),
                Some(c) => cli::plan_live(&args.snapshot, &args.nautobotsync, &c, json),
            });
            print_result(result)
        }
        Command::Apply(args) => {
            telemetry::init(
                &cli.log_level,
                cli.log_format.unwrap_or(telemetry::LogFormat::Text),
            );
            let result = args.nautobot.connection().and_then(|c| {
                let c = c.ok_or(cli::CliError::NoNautobot)?;
                cli::apply(
                    &args.snapshot,
                    &args.nautobotsync,
                    &c,
                    args.allow_mass_deletion,
                )
            });
            print_result(result)
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
