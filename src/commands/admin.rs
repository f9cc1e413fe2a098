//! `sealcast admin …`: operator tasks that work on the configured data dir
//! and database, before or while servers run.
//!
//! * `create-user` (the first admin, typically), password on standard input;
//! * `rotate-signing-key`: a new token signing key in the shared keyring (the
//!   database, see `crate::keyring`); every node signs with it within seconds,
//!   no restart, and old keys keep verifying until their tokens expire;
//! * `rotate-url-key`: the same for the URL-signing key (`kv=` in signed URLs);
//! * `rotate-master-key`: a new custody key; every stored content key is
//!   re-sealed to it, then key-server processes must restart to load it;
//! * `backfill-storyboards [--video ID]`: seek-preview storyboards for ready
//!   videos that lack one (made from their own smallest rendition, so this
//!   needs the custody master key, like `rotate-master-key`).

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sealcast_keyserver::{KeyringSeal, MasterKeyPair, DEFAULT_URL_LIFETIME};
use zeroize::Zeroizing;

use crate::config::{Config, ServeArgs};
use crate::db::Db;
use crate::identity::{create_user, IdentityError};
use crate::keyring::{self, RELOAD_EVERY};
use crate::keystore::reseal_all;
use crate::secrets;
use crate::storyboards::backfill::{Backfill, Outcome};

#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an account; prints its id.
    CreateUser(CreateUserArgs),
    /// Add a token signing key to the shared keyring; every node signs with it within seconds.
    RotateSigningKey(ConfigArgs),
    /// Add a URL-signing key version; every node signs URLs with it within seconds.
    RotateUrlKey(ConfigArgs),
    /// Replace the custody master key and re-seal every stored content key.
    RotateMasterKey(ConfigArgs),
    /// Make seek-preview storyboards for ready videos that lack one.
    BackfillStoryboards(BackfillArgs),
}

#[derive(Args, Debug)]
pub struct BackfillArgs {
    /// Only this video (default: every ready video).
    #[arg(long)]
    pub video: Option<String>,
    #[command(flatten)]
    pub config: ServeArgs,
}

#[derive(Args, Debug)]
pub struct CreateUserArgs {
    #[arg(long)]
    pub email: String,
    /// admin, creator or learner.
    #[arg(long)]
    pub role: String,
    /// Read the password from standard input (the only way: never on the command line).
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub config: ServeArgs,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub config: ServeArgs,
}

/// A failure with the exit status it deserves (2: usage/config, 1: otherwise).
struct Failure(u8, String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(1, e.to_string())
    }
}

pub fn run(args: AdminArgs) -> ExitCode {
    let runtime = match super::runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        match args.command {
            AdminCommand::CreateUser(a) => create_user_cmd(a).await,
            AdminCommand::RotateSigningKey(a) => rotate_signing_key(a).await,
            AdminCommand::RotateUrlKey(a) => rotate_url_key(a).await,
            AdminCommand::RotateMasterKey(a) => rotate_master_key(a).await,
            AdminCommand::BackfillStoryboards(a) => backfill_storyboards(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

fn load_config(args: &ServeArgs) -> Result<Config, Failure> {
    let config = Config::load(args).map_err(|e| Failure(2, e.to_string()))?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        Failure(
            1,
            format!("cannot create data dir {}: {e}", config.data_dir.display()),
        )
    })?;
    Ok(config)
}

async fn create_user_cmd(args: CreateUserArgs) -> Result<(), Failure> {
    if !args.password_stdin {
        return Err(Failure(
            2,
            "pass the password on standard input with --password-stdin".into(),
        ));
    }
    let role =
        crate::identity::users::parse_role(&args.role).map_err(|e| Failure(2, e.to_string()))?;
    let mut input = Zeroizing::new(String::new());
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut input)?;
    let password = input.strip_suffix('\n').unwrap_or(&input);
    let password = password.strip_suffix('\r').unwrap_or(password);
    let config = load_config(&args.config)?;
    let db = Db::connect(&config.database_url).await?;
    match create_user(&db, &args.email, password, role).await {
        Ok(user) => {
            println!("{}", user.id);
            Ok(())
        }
        Err(e @ (IdentityError::Invalid(..) | IdentityError::EmailTaken)) => {
            Err(Failure(2, e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

async fn rotate_signing_key(args: ConfigArgs) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    if config.secrets.signing_key_file.is_some() {
        return Err(Failure(
            2,
            "the signing key comes from signing_key_file (SEALCAST_SIGNING_KEY_FILE), a keyring \
             of one the database cannot rotate: replace that file on every node and restart \
             them, or unset it so nodes share the database keyring this command rotates"
                .into(),
        ));
    }
    let (db, seal) = shared_keyring(&config).await?;
    let kid = keyring::rotate_signing_key(&db, &seal).await?;
    println!("{kid}");
    eprintln!(
        "new signing key {kid}: every node signs with it within {} s, no restart; \
         older keys keep verifying until their tokens expire",
        RELOAD_EVERY.as_secs()
    );
    Ok(())
}

async fn rotate_url_key(args: ConfigArgs) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    let (db, seal) = shared_keyring(&config).await?;
    let version = keyring::rotate_url_key(&db, &seal, DEFAULT_URL_LIFETIME).await?;
    println!("{version}");
    eprintln!(
        "new URL-signing key version {version}: every node signs URLs with it within {} s; \
         URLs signed before keep working until they expire",
        RELOAD_EVERY.as_secs()
    );
    Ok(())
}

/// The database and the seal of its keyring: the URL-signing secret must be
/// the one the servers use (the same file, or the same data dir).
async fn shared_keyring(config: &Config) -> Result<(Db, KeyringSeal), Failure> {
    let root = secrets::read_b64_secret(&secrets::url_signing_secret_path(config), 32)?;
    let db = Db::connect(&config.database_url).await?;
    Ok((db, KeyringSeal::from_root(root.expose())))
}

async fn rotate_master_key(args: ConfigArgs) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    let path = secrets::master_key_path(&config);
    let old = MasterKeyPair::from_slice(secrets::read_b64_secret(&path, 32)?.expose())?;
    // The next key is written before any row changes, so an interrupted run
    // resumes with the same key instead of stranding rows.
    let next_path = path.with_extension("key.next");
    let new = if next_path.exists() {
        MasterKeyPair::from_slice(secrets::read_b64_secret(&next_path, 32)?.expose())?
    } else {
        let pair = MasterKeyPair::generate();
        secrets::write_b64_secret(&next_path, &*pair.to_bytes())?;
        pair
    };
    let db = Db::connect(&config.database_url).await?;
    let first = reseal_all(&db, &old, &new).await?;
    std::fs::rename(&next_path, &path)?;
    secrets::write_master_public(
        &secrets::master_public_path(&config),
        new.public_key().as_bytes(),
    )?;
    // Keys a worker sealed to the old public key while the first pass ran.
    let stragglers = reseal_all(&db, &old, &new).await?;
    println!("{}", new.fingerprint().to_hex());
    eprintln!(
        "re-sealed {} content keys to the new master key; restart key-server processes now \
         (until then they cannot open re-sealed keys and answer 500 key_unavailable)",
        first + stragglers
    );
    Ok(())
}

/// One line per video on stdout (`<id> made from <rendition>`, `<id> already
/// had one`, `<id> failed: <reason>`), a summary on stderr; exit 1 if any failed.
async fn backfill_storyboards(args: BackfillArgs) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    let master = MasterKeyPair::from_slice(
        secrets::read_b64_secret(&secrets::master_key_path(&config), 32)?.expose(),
    )?;
    let backfill = Backfill {
        storage: crate::storage::open(&config.storage).await?,
        db: Db::connect(&config.database_url).await?,
        master,
        work_root: config.data_dir.join("work"),
        memory_limit: config.jobs.memory_limit,
        timeout: config.jobs.timeout,
        log_format: config.log_format,
    };
    let targets = backfill.targets(args.video.as_deref()).await?;
    let (mut made, mut had, mut failed) = (0, 0, 0);
    for id in targets {
        match backfill.one(&id).await {
            Outcome::Made { rendition } => {
                made += 1;
                println!("{id} made from {rendition}");
            }
            Outcome::AlreadyHad => {
                had += 1;
                println!("{id} already had one");
            }
            Outcome::Failed(reason) => {
                failed += 1;
                println!("{id} failed: {reason}");
            }
        }
    }
    eprintln!("storyboards: {made} made, {had} already there, {failed} failed");
    if failed > 0 {
        return Err(Failure(
            1,
            format!("{failed} storyboards could not be made"),
        ));
    }
    Ok(())
}
