//! The engine over stdin as `causeloop patterns assign` runs it (one record per line, ids resolved
//! through merges and printed at the end, `--set NAME=VALUE` for the decision's parameters), in a
//! binary that builds in seconds: for trying designs and parameters before building `causeloop`.
//! `--templates` also prints the live templates, with their counts, on stderr.

use std::io::{self, BufWriter, Read, Write};

use causeloop_patterns::{Config, Engine};

fn main() -> io::Result<()> {
    let mut config = Config::default();
    let mut templates = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--templates" {
            templates = true;
            continue;
        }
        let setting = match arg.strip_prefix("--set=") {
            Some(setting) => setting,
            None if arg == "--set" => args.next().expect("--set NAME=VALUE"),
            None => panic!("unknown argument {arg}"),
        };
        let (name, value) = setting.split_once('=').expect("NAME=VALUE");
        config.set(name, value).expect("a known parameter");
    }
    let mut input = Vec::new();
    io::stdin().lock().read_to_end(&mut input)?;
    let text = String::from_utf8_lossy(&input);
    let mut engine = Engine::new().with_config(config);
    let ids: Vec<_> = text.lines().map(|line| engine.assign(line, None, None, 0).pattern_id).collect();
    let mut out = BufWriter::new(io::stdout().lock());
    for id in ids {
        writeln!(out, "{}", engine.resolve(id).unwrap_or(id))?;
    }
    out.flush()?;
    if templates {
        for pattern in engine.patterns() {
            eprintln!("{:>6}  {}", pattern.count, pattern.template);
        }
    }
    Ok(())
}
