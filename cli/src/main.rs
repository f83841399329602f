//! The `transferability` command: parses arguments and calls the libraries
//! (`data-split`, `transfer`, `analysis`). No training or dataframe code
//! lives here.

mod args;
mod commands;

use std::process::ExitCode;

use clap::Parser;

/// The system allocator with large freed blocks kept for reuse.
#[global_allocator]
static ALLOC: kernels::memory::KeepLarge = kernels::memory::KeepLarge;

fn main() -> ExitCode {
    kernels::memory::keep_freed_memory();
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
