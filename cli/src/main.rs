//! `causeloop`: run the whole service locally, manage API keys, and drive the pattern engine.

mod insights;
mod keys;
mod patterns;
mod secrets;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "causeloop", version, about = "Find the patterns behind recurring production failures")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route family and worker in one process on the embedded store.
    Serve(Box<serve::ServeArgs>),
    /// Create, list and revoke API keys (run with the server stopped when using --data-dir).
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Rotate the master keyring: make a key, seal every stored secret under the first key.
    Secrets {
        #[command(subcommand)]
        command: secrets::SecretsCommand,
    },
    /// Run the pattern-clustering engine over records on stdin.
    Patterns {
        #[command(subcommand)]
        command: patterns::PatternsCommand,
    },
    /// Recurrence prediction over incidents on stdin.
    Insights {
        #[command(subcommand)]
        command: insights::InsightsCommand,
    },
}

/// Where keys live: the embedded store (default) or a DynamoDB table.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// Directory of the embedded store.
    #[arg(long, default_value = ".causeloop")]
    data_dir: PathBuf,
    /// Use this DynamoDB table instead (region, credentials and endpoint from the AWS environment).
    #[arg(long)]
    table: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Keys { command } => keys::run(command).await,
        Command::Secrets { command } => secrets::run(command).await,
        Command::Patterns { command } => patterns::run(command),
        Command::Insights { command } => insights::run(command),
    }
}

/// Creates the data directory readable by its owner only: it holds the store and, after the
/// first start, the bootstrap credentials.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}
