//! `accord-proxy`: validates MQTT publishes against their contracts in front of a broker.

use clap::{CommandFactory, FromArgMatches, Parser};

use accord::config::init_logging;
use accord::proxy::config::{ProxyConfig, ProxyFile};
use accord::proxy::server::Proxy;

#[derive(Parser)]
#[command(
    name = "accord-proxy",
    version,
    about = "Accord's in-line contract enforcement: an MQTT 3.1.1/5.0 proxy that validates \
             each published message against its registered schema",
    after_help = "Bindings (which contract a topic carries) come from the registry \
                  (/accord/v1/bindings) and from [[bindings]] in the config file. \
                  SIGHUP reloads the file's bindings; SIGTERM shuts down gracefully."
)]
struct Cli {
    #[command(flatten)]
    config: ProxyConfig,
}

fn load() -> Result<ProxyConfig, String> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    if let Some(path) = cli.config.config_file.clone() {
        let file = ProxyFile::read(&path).map_err(|e| format!("config file {e}"))?;
        cli.config
            .apply_file(file, &matches)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
    }
    Ok(cli.config)
}

fn main() -> std::process::ExitCode {
    // A large message's buffers go back to the system when it has passed.
    accord::registry::work::map_large_allocations(1 << 20);
    let config = match load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("accord-proxy: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("accord-proxy: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    init_logging(config.log_format);
    let run = async {
        let proxy = Proxy::build(config).await?;
        proxy.run().await
    };
    match runtime.block_on(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord-proxy: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
