//! `accord-server`: the registry. `serve` (default), `migrate`, `openapi`.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use accord::config::{LogFormat, ServerConfig};
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
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
