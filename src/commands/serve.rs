//! `sealcast serve`.

use std::process::ExitCode;

use crate::config::{Config, ServeArgs};
use crate::{server, telemetry};

pub fn run(args: ServeArgs) -> ExitCode {
    crate::memory::return_large_blocks();
    let config = match Config::load(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    if args.demo && !config.listen.ip().is_loopback() {
        eprintln!(
            "error: invalid setting `demo`: --demo prints account passwords and only listens on \
             loopback (e.g. 127.0.0.1:8080), not {}",
            config.listen
        );
        return ExitCode::from(2);
    }
    telemetry::init(config.log_format);
    let runtime = match super::runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(server::run(config, args.demo)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
