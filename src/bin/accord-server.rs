//! `accord-server`: the registry. `serve` (default), `migrate`, `openapi`, `create-admin-key`.

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use accord::config::{init_logging, FileConfig, ServerConfig};
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
    /// Create an admin API key and print it (the secret is shown this once). Use it to create
    /// the other keys through `/accord/v1/keys`.
    CreateAdminKey {
        /// What the key is for.
        #[arg(long, default_value = "created by accord-server create-admin-key")]
        description: String,
    },
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
            eprintln!("accord-server: {}", describe(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, leaving out a cause whose text the line already holds
/// (sqlx's and our storage errors repeat their source in their own message).
fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
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
        Command::CreateAdminKey { description } => {
            if cli.config.database_url.is_none() && !cli.config.sqlite_path().exists() {
                // Creating one here would give a key the running server does not know.
                anyhow::bail!(
                    "no embedded database at {}: run this where the server runs (the same \
                     ACCORD_DATA_DIR), or set DATABASE_URL to the server's PostgreSQL",
                    cli.config.sqlite_path().display()
                );
            }
            let store = open_store(&cli.config).await?;
            let governance = accord::governance::Governance::new(store, true);
            let actor = accord::governance::Actor::system("accord-server create-admin-key");
            let key = governance
                .create_key(
                    &actor,
                    accord::governance::Role::Admin,
                    None,
                    description,
                    None,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("id:     {}", key.record.id);
            println!("secret: {}", key.secret);
            println!(
                "Send it as HTTP Basic ({}:<secret>) or as 'Authorization: Bearer {}:<secret>'.",
                key.record.id, key.record.id
            );
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
