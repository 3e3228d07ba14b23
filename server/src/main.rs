//! `updraft-server`: run the hawkBit-compatible update server.

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use updraft_server::config::{self, Config, LogFormat};

// glibc's allocator cost about 12 % of a device poll's CPU; mimalloc halves that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The C library's `pow`, defined here with `own-pow` (the container image's build) so the linker
/// resolves the binary's only libm call to it and drops libm.so.6 from the image (Cargo.toml says
/// why).
#[cfg(feature = "own-pow")]
#[allow(unsafe_code)] // `no_mangle` is how Rust defines a C symbol; the function itself is safe.
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// Updraft update server: hawkBit's device API (DDI v1) and Management API (/rest/v1) in one binary.
///
/// With no options it listens on 0.0.0.0:8080 and keeps an SQLite database and the artifacts under
/// ./updraft-data. On first start it creates user `admin`; without UPDRAFT_ADMIN_PASSWORD the
/// password is random, printed once and stored in <data dir>/admin-password (mode 0600).
///
/// Settings come from the TOML file given with --config, then from UPDRAFT_* environment variables;
/// `updraft-server --help` lists every one (`updraft-server settings` prints the list alone).
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// TOML configuration file (keys as in the README's configuration table).
    #[arg(long, short, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve,
    /// Manage Management API users (in the configured database).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage tenants (in the configured database).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Print every setting: its TOML key, UPDRAFT_* variable, default and meaning.
    Settings {
        /// As the Markdown table the README carries.
        #[arg(long)]
        markdown: bool,
    },
    /// Artifact storage: move the artifacts between stores.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Import everything from a running hawkBit (or Updraft) over its Management API.
    ///
    /// Reads tenant settings, types, software modules with their artifacts, distribution sets, tags,
    /// targets (with their security tokens, attributes, metadata, auto-confirm state and installed
    /// and assigned sets), target
    /// filters and the action history, and writes them into the configured database and artifact
    /// store. Devices keep their controller ids and tokens and are told nothing new. Run it again to
    /// add what changed since; an interrupted run continues. Rollouts in progress are listed, not
    /// recreated.
    ///
    /// Users are not imported: hawkBit keeps them in its configuration, and its Management API
    /// lists none.
    ///
    /// Example: updraft-server import --from https://hawkbit.example.com --user admin --password-stdin
    Import(ImportArgs),
    /// Write the OpenAPI documents (mgmt.json, ddi.json) that the code generates.
    Openapi {
        /// Directory to write into (the repository keeps them in `openapi/`).
        #[arg(long, value_name = "DIR", default_value = "openapi")]
        out: PathBuf,
    },
    /// Exit 0 when a running server is ready (its /readyz answers 200), 1 otherwise with the reason:
    /// the container image's HEALTHCHECK, which has no curl.
    Healthcheck {
        /// What to ask [default: /readyz on the configured listen address, over loopback].
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The hawkBit server's base URL (http:// or https://), without /rest/v1.
    #[arg(long, value_name = "URL")]
    from: String,
    /// A hawkBit user that may read everything, including READ_TARGET_SECURITY_TOKEN.
    #[arg(long, value_name = "USER")]
    user: String,
    /// The user's password (or UPDRAFT_IMPORT_PASSWORD; --password-stdin keeps it out of `ps`).
    #[arg(
        long,
        env = "UPDRAFT_IMPORT_PASSWORD",
        hide_env_values = true,
        required_unless_present = "password_stdin"
    )]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// The Updraft tenant to import into; created when missing.
    #[arg(long, default_value = "DEFAULT")]
    tenant: String,
    /// Compare the source with this server's database and print, per entity type, how many a run
    /// would add, update and finds unchanged; write and download nothing. (It runs the import's
    /// writes in one transaction that it rolls back; on SQLite a server sharing the database waits
    /// for its writes meanwhile.)
    #[arg(long)]
    dry_run: bool,
    /// Trust the CA certificate(s) in this PEM file for the source's https:// certificate, besides
    /// the system's (a hawkBit behind a private CA). Certificates are always verified.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Import at most N targets (a trial with part of the fleet; a later run adds the rest).
    #[arg(long, value_name = "N")]
    max_targets: Option<u64>,
    /// Requests to the source at once for per-target reads.
    #[arg(long, value_name = "N", default_value_t = 8)]
    parallel: usize,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin a random password is generated and printed once.
    ///
    /// Example: updraft-server user add ci-bot --permissions READ_TARGET,READ_REPOSITORY
    Add {
        username: String,
        /// The user's tenant; it must exist (see `tenant add`).
        #[arg(long, default_value = "DEFAULT")]
        tenant: String,
        /// Comma-separated hawkBit permissions or roles: READ_TARGET, UPDATE_TARGET, ...,
        /// TARGET_ADMIN, REPOSITORY_ADMIN, ROLLOUT_ADMIN, TENANT_ADMIN, SYSTEM_ADMIN, or ALL.
        /// Legacy names such as READ_REPOSITORY are accepted.
        #[arg(long, value_name = "LIST")]
        permissions: String,
        /// Read the password from the first line of standard input (at least 12 characters).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with their tenant and expanded permissions.
    List,
    /// Delete a user.
    Remove { username: String },
}

#[derive(Subcommand)]
enum StorageCommand {
    /// Copy every artifact of the filesystem store (<data dir>/artifacts) into the S3 bucket of the
    /// [s3] settings (UPDRAFT_S3_*, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the
    /// AWS chain). Blobs already in the bucket are skipped, so an interrupted run is simply run again;
    /// each copy is hashed and checked. The files stay: once it reports no failure, set
    /// storage = "s3" (UPDRAFT_STORAGE=s3), restart, and remove <data dir>/artifacts.
    ///
    /// Example: UPDRAFT_S3_BUCKET=updraft updraft-server storage migrate --to s3
    Migrate {
        /// The store to move to.
        #[arg(long, value_enum)]
        to: StorageTarget,
        /// The filesystem store's directory, if not <data dir>/artifacts.
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StorageTarget {
    /// The S3-compatible bucket of the [s3] settings.
    S3,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant with hawkBit's default module and distribution set types.
    Add { name: String },
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

/// The command line, with the settings reference (generated from `config`'s one list) after the
/// long help of the program and of `serve`.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let reference = config::settings::plain(&config::reference());
    let command = Cli::command()
        .after_long_help(reference.clone())
        .mut_subcommand("serve", |c| c.after_long_help(reference));
    Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit())
}

fn main() -> anyhow::Result<()> {
    let cli = parse_cli();
    let load = || Config::load(cli.config.as_deref());
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(load()?),
        Command::User(cmd) => admin::user(load()?, cmd),
        Command::Tenant(TenantCommand::Add { name }) => admin::tenant_add(load()?, &name),
        Command::Settings { markdown } => {
            let rows = config::reference();
            if markdown {
                print!("{}", config::settings::markdown(&rows));
            } else {
                print!("{}", config::settings::plain(&rows));
            }
            Ok(())
        }
        Command::Storage(StorageCommand::Migrate {
            to: StorageTarget::S3,
            from,
        }) => admin::migrate_to_s3(&load()?, from),
        Command::Openapi { out } => admin::write_openapi(&out),
        Command::Healthcheck { url } => {
            use updraft_server::health::probe;
            let url = match url {
                Some(url) => url,
                None => probe::default_url(&load()?.listen),
            };
            if let Err(why) = probe::check(&url) {
                eprintln!("not healthy: {why}");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Import(args) => import(load()?, args),
    }
}

/// `import`: errors are printed as sentences and end the process with the error's exit code.
fn import(config: Config, args: ImportArgs) -> anyhow::Result<()> {
    use std::io::BufRead;
    use updraft_server::import;
    let password = match args.password {
        Some(p) if !args.password_stdin => p,
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let tenant = updraft_server::store::tenants::tenant_name(&args.tenant)
        .map_err(|e| anyhow::anyhow!("{}", updraft_server::error::ApiError::from(e)))?;
    let fail = |e: import::ImportError| -> ! {
        eprintln!("updraft-server import: {e}");
        std::process::exit(e.exit_code())
    };
    let ca_cert = args.ca_cert.map(|path| {
        std::fs::read(&path).unwrap_or_else(|e| {
            fail(import::ImportError::Source(format!(
                "the --ca-cert file {} cannot be read: {e}.",
                path.display()
            )))
        })
    });
    let opts = import::Options {
        from: args.from,
        user: args.user,
        password,
        tenant,
        max_targets: args.max_targets,
        parallel: args.parallel,
        ca_cert,
    };
    let state = updraft_server::build_state(config)?;
    let report = if args.dry_run {
        import::dry_run(&state, &opts)
    } else {
        import::run(&state, &opts)
    }
    .unwrap_or_else(|e| fail(e));
    print!("{}", report.render());
    Ok(())
}

fn serve(mut config: Config) -> anyhow::Result<()> {
    init_logging(&config);
    let listener = TcpListener::bind(&config.listen).with_context(|| {
        format!(
            "cannot listen on {} (set UPDRAFT_LISTEN to another address)",
            config.listen
        )
    })?;
    // With port 0 the system picks the port; what is derived from `listen` (DMF's default
    // download links) and the line below name the one it picked.
    let bound = listener.local_addr()?;
    config.listen = bound.to_string();
    let state = updraft_server::build_state(config)?;
    // The address is in the message, not a field, so that a test starting the binary on port 0
    // finds it in either log format: `updraft-server listening on 127.0.0.1:41234`.
    tracing::info!(data_dir = %state.config.data_dir.display(), backend = ?state.db.backend(),
        "updraft-server listening on {bound}");
    actix_rt::System::new().block_on(updraft_server::serve(state, listener, None))
}

/// The administrative commands: they work on the configured database directly.
mod admin {
    use std::io::BufRead;
    use std::path::Path;

    use anyhow::Context;
    use updraft_server::auth::permissions::Permissions;
    use updraft_server::auth::{random_token, users};
    use updraft_server::config::Config;

    use super::UserCommand;

    pub fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
        let state = updraft_server::build_state(config)?;
        let now = state.now();
        match cmd {
            UserCommand::Add {
                username,
                tenant,
                permissions,
                password_stdin,
            } => {
                let password = if password_stdin {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                } else {
                    random_token()
                };
                let tenant = tenant.to_ascii_uppercase();
                updraft_server::store::users::validate_new_user(&username, &password, &permissions)
                    .map_err(|e| anyhow::anyhow!("{}", updraft_server::error::ApiError::from(e)))?;
                users::add_user(&state.db, &tenant, &username, &password, &permissions, now)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if password_stdin {
                    println!("Created user {username} in tenant {tenant}.");
                } else {
                    println!("Created user {username} in tenant {tenant} with password {password}");
                }
            }
            UserCommand::List => {
                let rows = state
                    .db
                    .tx_blocking(|c| Ok(updraft_server::store::users::list(c)?))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                for updraft_server::store::users::UserRow {
                    username: name,
                    tenant,
                    permissions: perms,
                } in rows
                {
                    let expanded: Vec<&str> = Permissions::parse(&perms)
                        .unwrap_or_default()
                        .iter()
                        .map(updraft_server::auth::permissions::Permission::name)
                        .collect();
                    println!("{name}\t{tenant}\t{perms}\t({})", expanded.join(","));
                }
            }
            UserCommand::Remove { username } => {
                state
                    .db
                    .tx_blocking(|c| users::delete_user(c, &username))
                    .map_err(|e| anyhow::anyhow!("{e}; `updraft-server user list` shows the users"))?;
                println!("Deleted user {username}.");
            }
        }
        Ok(())
    }

    pub fn tenant_add(config: Config, name: &str) -> anyhow::Result<()> {
        let name = updraft_server::store::tenants::tenant_name(name)
            .map_err(|e| anyhow::anyhow!("{}", updraft_server::error::ApiError::from(e)))?;
        let state = updraft_server::build_state(config)?;
        let now = state.now();
        state
            .db
            .tx_blocking(|c| updraft_server::bootstrap::ensure_tenant(c, &name, now))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "Tenant {name} is ready; add its users with `updraft-server user add NAME --tenant {name}`."
        );
        Ok(())
    }

    pub fn migrate_to_s3(config: &Config, from: Option<std::path::PathBuf>) -> anyhow::Result<()> {
        use updraft_server::storage;
        storage::settings::validate(&config.s3, config.max_artifact_size)?;
        let source = from.unwrap_or_else(|| config.data_dir.join("artifacts"));
        let dest = storage::S3Store::new(&config.s3)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the migration")?;
        let outcome = runtime.block_on(async {
            storage::ArtifactStore::check(&dest).await.with_context(|| {
                format!(
                    "the bucket {:?} cannot be used; check [s3] settings and the AWS credentials",
                    config.s3.bucket
                )
            })?;
            storage::migrate::to_s3(&source, &dest, &mut std::io::stdout()).await
        })?;
        if outcome.failed > 0 {
            anyhow::bail!(
                "{} artifacts could not be copied (see above); run the command again to retry them",
                outcome.failed
            );
        }
        println!(
            "Every artifact is in the bucket. Set storage = \"s3\" (UPDRAFT_STORAGE=s3), restart the \
             server, then remove {}.",
            source.display()
        );
        Ok(())
    }

    pub fn write_openapi(out: &Path) -> anyhow::Result<()> {
        use updraft_server::openapi;
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for (name, doc) in [("mgmt.json", openapi::management()), ("ddi.json", openapi::ddi())] {
            let path = out.join(name);
            updraft_server::storage::write_file_atomically(&path, openapi::render(&doc).as_bytes(), 0o644)?;
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}
