//! `sealstack-operator`: reconciles ParamCache, Miner and SealingWorker resources.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use sealstack_operator::controllers::ControllerKind;
use sealstack_operator::watch_namespaces::watch_namespaces;
use sealstack_telemetry::LogFormat;

/// Kubernetes operator for Filecoin storage providers.
#[derive(Debug, Parser)]
#[command(name = "sealstack-operator", version, about)]
struct Cli {
    /// Log line format.
    #[arg(long, value_enum, default_value_t, env = "SEALSTACK_LOG_FORMAT", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the ParamCache, Miner and SealingWorker controllers.
    Run(RunArgs),
    /// Print the CustomResourceDefinitions this operator serves, as YAML.
    Crds,
    /// Print the RBAC the operator needs, one comment per rule saying why: a ClusterRole, or with --namespace a
    /// Role in each watched namespace, a Role for the Lease and a ClusterRole with the cluster-scoped rules.
    Rbac(RbacArgs),
}

/// Options of `sealstack-operator rbac`.
#[derive(Debug, clap::Args)]
struct RbacArgs {
    /// Name of the ClusterRole and of the Roles.
    #[arg(long, default_value = "sealstack-operator")]
    name: String,
    /// The namespaces the operator watches, repeated or comma-separated (default: all namespaces, one
    /// ClusterRole with every rule).
    #[arg(long = "namespace", value_name = "NAMESPACE", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// The operator's own namespace, where its leader-election Lease is (with --namespace).
    #[arg(long, default_value = "sealstack-system")]
    operator_namespace: String,
    /// Print the chart's templates/_rbac_rules.tpl instead (the rules the chart grants).
    #[arg(long, conflicts_with = "namespaces")]
    chart_rules: bool,
}

/// Options of `sealstack-operator run`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Address of the `/metrics`, `/healthz` and `/readyz` endpoints.
    #[arg(long, default_value = "0.0.0.0:8080", env = "SEALSTACK_METRICS_ADDR")]
    metrics_addr: SocketAddr,
    /// Watch only these namespaces, repeated or comma-separated (default: all namespaces). Each gets its own
    /// set of controllers and namespaced watches, so that the operator needs rights there only.
    #[arg(long = "namespace", value_name = "NAMESPACE", value_delimiter = ',', env = "SEALSTACK_WATCH_NAMESPACE")]
    namespaces: Vec<String>,
    /// Name of the Lease used for leader election; empty disables it (one replica only).
    #[arg(long, default_value = "sealstack-operator", env = "SEALSTACK_LEADER_LEASE")]
    leader_lease: String,
    /// Image of `sealstack-miner` for fetch Jobs, miners and workers whose spec names none.
    #[arg(long, default_value = "sealstack/miner:latest", env = "SEALSTACK_RUNTIME_IMAGE")]
    runtime_image: String,
    /// The controllers to run, comma-separated (default: all of them).
    #[arg(long, value_enum, value_delimiter = ',', env = "SEALSTACK_CONTROLLERS")]
    controllers: Vec<ControllerKind>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sealstack_telemetry::install_crypto_provider();
    let cli = Cli::parse();
    sealstack_telemetry::init_logging(cli.log_format);
    match cli.command {
        Command::Crds => {
            print!("{}", sealstack_crds::generate::all_crds_yaml()?);
            Ok(())
        }
        Command::Rbac(args) => {
            let yaml = if args.chart_rules {
                sealstack_operator::rbac::chart_rules_template()
            } else {
                let namespaces = watch_namespaces(&args.namespaces)?;
                sealstack_operator::rbac::roles_yaml(&args.name, &namespaces, &args.operator_namespace)
            };
            print!("{yaml}");
            Ok(())
        }
        Command::Run(args) => {
            tracing::info!(?args, "starting sealstack-operator");
            sealstack_operator::run::run(sealstack_operator::run::RunOptions {
                metrics_addr: args.metrics_addr,
                namespaces: watch_namespaces(&args.namespaces)?,
                leader_lease: Some(args.leader_lease).filter(|l| !l.is_empty()),
                settings: sealstack_operator::context::Settings {
                    runtime_image: args.runtime_image,
                    ..Default::default()
                },
                controllers: match args.controllers {
                    kinds if kinds.is_empty() => ControllerKind::ALL.to_vec(),
                    kinds => kinds,
                },
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["sealstack-operator", "run", "--namespace", "miners"]).unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        assert_eq!(args.namespaces, ["miners"]);
        assert_eq!(args.metrics_addr.port(), 8080);
        assert!(args.controllers.is_empty(), "all of them");
        let cli = Cli::try_parse_from(["sealstack-operator", "run", "--controllers", "miner,sealing-worker"]).unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        assert_eq!(args.controllers, [ControllerKind::Miner, ControllerKind::SealingWorker]);
        assert!(args.namespaces.is_empty(), "all namespaces");
    }

    fn namespaces_of(args: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from([&["sealstack-operator", "run"], args].concat()).unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        watch_namespaces(&args.namespaces).unwrap()
    }

    #[test]
    fn namespaces_are_repeated_or_comma_separated() {
        assert_eq!(namespaces_of(&["--namespace", "a", "--namespace", "b"]), ["a", "b"]);
        assert_eq!(namespaces_of(&["--namespace=a,b", "--namespace", "c"]), ["a", "b", "c"]);
        assert_eq!(namespaces_of(&["--namespace="]), Vec::<String>::new(), "empty: all namespaces");
        // The environment variable (the chart sets the flag) is split at the same commas.
        let command = Cli::command();
        let run = command.find_subcommand("run").unwrap();
        let arg = run.get_arguments().find(|a| a.get_long() == Some("namespace")).unwrap();
        assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new("SEALSTACK_WATCH_NAMESPACE")));
        assert_eq!(arg.get_value_delimiter(), Some(','));
    }

    #[test]
    fn rbac_takes_the_watched_namespaces_or_prints_the_charts_rules() {
        let cli = Cli::try_parse_from(["sealstack-operator", "rbac", "--namespace", "a,b"]).unwrap();
        let Command::Rbac(args) = cli.command else { panic!("not rbac") };
        assert_eq!(
            (args.namespaces, args.operator_namespace.as_str()),
            (vec!["a".into(), "b".into()], "sealstack-system")
        );
        assert!(Cli::try_parse_from(["sealstack-operator", "rbac", "--chart-rules"]).is_ok());
        assert!(Cli::try_parse_from(["sealstack-operator", "rbac", "--chart-rules", "--namespace", "a"]).is_err());
    }
}
