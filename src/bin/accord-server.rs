//! `accord-server`: the registry. `serve` (default), `migrate`, `openapi`.

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use accord::config::{FileConfig, LogFormat, ServerConfig};
use accord::startup::{open_store, Application};

#[derive(Parser)]
#[command(
    name = "accord-server",
    version,
    about = "Accord schema registry (Confluent-compatible REST API)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ServerConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("ACCORD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Start-up errors are printed as one readable chain, never as a backtrace.
fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("accord-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let Some(path) = cli.config.config_file.clone() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let file = FileConfig::parse(&text)
            .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
        cli.config
            .apply_file(file, &matches)
            .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", accord::api::openapi::document_json());
            Ok(())
        }
        Command::Migrate => {
            init_logging(cli.config.log_format);
            open_store(&cli.config).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => {
            init_logging(cli.config.log_format);
            let app = Application::build(cli.config).await?;
            app.run().await?;
            Ok(())
        }
    }
}
