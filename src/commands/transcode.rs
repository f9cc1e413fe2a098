//! PLACEHOLDER: helper-1 (transcoder) replaces this whole file with the real `sealcast transcode`.
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct TranscodeArgs {
    pub input: PathBuf,
    pub outdir: PathBuf,
}

pub fn run(_args: TranscodeArgs) -> ExitCode {
    eprintln!("error: not built yet");
    ExitCode::from(1)
}
