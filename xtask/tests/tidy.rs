//! Tidy checks of the whole workspace, run as tests: every Rust file opens
//! with a `//!` comment, every crate has a README and is a workspace member,
//! the layering on the dependency graph `cargo metadata` resolves, where
//! CPU features are detected and `unsafe` is allowed, what the model may
//! touch, that nothing seeded draws from burn's global RNG, and that
//! ARCHITECTURE.md's code map names every source file and each of its
//! invariants a test that exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable").flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() && !name.starts_with('.') && name != "target" && name != "runs" {
            rust_files(&p, out);
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

const CRATES: [&str; 10] = ["workspace-hack", "isa", "records", "data-split", "kernels", "model", "transfer", "analysis", "cli", "xtask"];

/// `(path relative to the workspace, text)` of every Rust source file under `crate/src`.
fn sources(krate: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&root().join(krate).join("src"), &mut files);
    files.sort();
    files.into_iter().map(|f| (f.strip_prefix(root()).expect("inside").display().to_string(), std::fs::read_to_string(&f).expect("utf-8"))).collect()
}

/// `cargo metadata` of the workspace (dependencies resolved for this platform).
fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // this platform's graph only: the build has every package of it already
    let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())).arg("-vV").output().expect("rustc runs");
    let host = String::from_utf8_lossy(&rustc.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_string)).expect("host triple");
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Normal (not dev, not build) dependencies of one package, by package name:
/// the direct ones and all reachable ones.
struct Deps {
    direct: Vec<String>,
    all: std::collections::BTreeSet<String>,
}

fn resolved_deps(meta: &serde_json::Value, package: &str) -> Deps {
    let name_of = |id: &str| -> String {
        meta["packages"].as_array().expect("packages").iter().find(|p| p["id"] == id).map(|p| p["name"].as_str().expect("name").to_string()).expect("package")
    };
    let nodes = meta["resolve"]["nodes"].as_array().expect("resolve");
    let normal = |id: &str| -> Vec<String> {
        let node = nodes.iter().find(|n| n["id"] == id).expect("node");
        node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| d["dep_kinds"].as_array().expect("kinds").iter().any(|k| k["kind"].is_null()))
            .map(|d| d["pkg"].as_str().expect("id").to_string())
            .collect()
    };
    let id = meta["packages"].as_array().expect("packages").iter().find(|p| p["name"] == package).map(|p| p["id"].as_str().expect("id").to_string());
    let id = id.unwrap_or_else(|| panic!("package {package}"));
    let direct = normal(&id);
    let (mut seen, mut todo) = (std::collections::BTreeSet::new(), direct.clone());
    while let Some(d) = todo.pop() {
        if seen.insert(d.clone()) {
            todo.extend(normal(&d));
        }
    }
    Deps { direct: direct.iter().map(|d| name_of(d)).collect(), all: seen.iter().map(|d| name_of(d)).collect() }
}

#[test]
fn every_rust_file_opens_with_a_module_comment() {
    let mut files = Vec::new();
    for c in CRATES {
        rust_files(&root().join(c), &mut files);
    }
    assert!(files.len() > 30);
    let missing: Vec<_> = files.iter().filter(|f| !std::fs::read_to_string(f).expect("utf-8").starts_with("//!")).collect();
    assert!(missing.is_empty(), "files without a `//!` opening: {missing:?}");
}

#[test]
fn every_crate_has_a_readme() {
    for c in CRATES {
        assert!(root().join(c).join("README.md").is_file(), "{c}/README.md");
    }
}

#[test]
fn every_crate_is_a_workspace_member() {
    let meta = metadata();
    let mut members: Vec<String> = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|id| {
            let p = meta["packages"].as_array().expect("packages").iter().find(|p| p["id"] == *id).expect("package");
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("path"));
            manifest.parent().expect("dir").strip_prefix(root()).expect("inside").display().to_string()
        })
        .collect();
    members.sort();
    let mut crates: Vec<String> = CRATES.iter().map(|c| c.to_string()).collect();
    crates.sort();
    assert_eq!(members, crates, "CRATES here and the workspace's members");
}

/// ARCHITECTURE.md's layering, on the dependency graph cargo resolves
/// (normal dependencies, transitively), not on the manifests' text.
#[test]
fn layering_invariants_hold() {
    let meta = metadata();
    let deps = |p: &str| resolved_deps(&meta, p);
    let links = |d: &Deps, prefix: &str| d.all.iter().filter(|n| n.starts_with(prefix)).cloned().collect::<Vec<_>>();
    let transfer = deps("transferability-transfer");
    assert!(links(&transfer, "polars").is_empty(), "transfer links polars: {:?}", links(&transfer, "polars"));
    assert!(!links(&transfer, "burn").is_empty(), "the graph is read: transfer links burn");
    let analysis = deps("transferability-analysis");
    assert!(links(&analysis, "burn").is_empty(), "analysis links burn: {:?}", links(&analysis, "burn"));
    for p in ["transferability-data-split", "transferability-records"] {
        let d = deps(p);
        assert!(links(&d, "burn").is_empty() && links(&d, "polars").is_empty(), "{p} links burn or polars");
    }
    for p in ["transferability-kernels", "transferability-model"] {
        assert!(links(&deps(p), "polars").is_empty(), "{p} links polars");
    }
    assert!(deps("transferability-isa").all.is_empty(), "isa depends on nothing");
    // the binaries parse and call: no dataframes or tensors of their own
    for p in ["transferability-cli", "xtask"] {
        let direct = deps(p).direct;
        assert!(!direct.iter().any(|n| n.starts_with("polars") || n.starts_with("burn")), "{p} depends on {direct:?}");
    }
}

/// `package|features` lines of `cargo tree` for one build (`args` select
/// it), the workspace's own packages (with a path) left out.
fn tree(args: &[&str]) -> std::collections::BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--prefix", "none", "--format", "{p}|{f}"])
        .args(args)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_string())
        .filter(|l| !l.split('|').next().unwrap_or("").contains(" (/"))
        .collect()
}

/// `cargo xtask sweep` (`cargo run -p transferability-cli`) and `cargo
/// xtask bench` (`cargo bench -p transferability-model`) ask for each
/// dependency with the features `cargo test --workspace` builds it with,
/// and `cargo test -p X` of each member share one compiled burn and
/// polars: every package (with
/// its features) of their graphs is one of the tests' (the
/// `workspace-hack` crate holds the union; when this fails, add the
/// printed features to `workspace-hack/Cargo.toml`).
#[test]
fn one_feature_set_serves_every_build() {
    let tests = tree(&["--workspace", "-e", "normal,build,dev"]);
    let mut builds: Vec<(String, Vec<String>)> = vec![
        ("cargo xtask sweep".into(), ["-p", "transferability-cli", "-e", "normal,build"].map(String::from).to_vec()),
        ("cargo xtask bench".into(), ["-p", "transferability-model", "-e", "normal,build,dev"].map(String::from).to_vec()),
    ];
    // and one member's tests alone (`cargo test -p X`)
    for c in CRATES.into_iter().filter(|c| !matches!(*c, "xtask" | "workspace-hack")) {
        let package = format!("transferability-{c}");
        builds.push((format!("cargo test -p {package}"), vec!["-p".into(), package, "-e".into(), "normal,build,dev".into()]));
    }
    for (what, args) in builds {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let other: Vec<String> = tree(&args).difference(&tests).cloned().collect();
        let wanted: Vec<&String> = other.iter().flat_map(|l| tests.iter().filter(move |t| t.split('|').next() == l.split('|').next())).collect();
        assert!(other.is_empty(), "{what} builds {other:?} where the tests build {wanted:?}: add these features to workspace-hack/Cargo.toml");
    }
    // and every member that links burn or polars asks for the union
    let meta = metadata();
    for c in ["records", "data-split", "kernels", "model", "transfer", "analysis", "cli"] {
        let d = resolved_deps(&meta, &format!("transferability-{c}"));
        assert!(d.direct.iter().any(|n| n == "workspace-hack"), "{c} does not depend on workspace-hack");
    }
}

/// Only `isa` asks the CPU what it has; every dispatcher asks `isa`.
#[test]
fn only_isa_detects_cpu_features() {
    for c in CRATES.into_iter().filter(|c| *c != "isa") {
        for (path, text) in sources(c) {
            assert!(!text.contains("is_x86_feature_detected"), "{path} detects CPU features itself; ask `isa::active`");
        }
    }
}

/// `unsafe` (which the workspace denies) is allowed in `kernels`, and
/// elsewhere only at these sites, each for its reason.
const UNSAFE_ELSEWHERE: [(&str, &str); 3] = [
    ("data-split/src/pack.rs", "memory-maps packed shards"),
    ("data-split/src/preprocess.rs", "calls its AVX2/AVX-512 builds; data-split cannot depend on kernels (burn)"),
    ("transfer/src/cache.rs", "memory-maps the prefix cache"),
];

#[test]
fn unsafe_code_only_where_listed() {
    let mut found = Vec::new();
    for c in CRATES.into_iter().filter(|c| *c != "kernels") {
        for (path, text) in sources(c) {
            if text.contains("allow(unsafe_code)") {
                found.push(path);
            }
        }
    }
    let listed: Vec<String> = UNSAFE_ELSEWHERE.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(found, listed, "`unsafe` outside kernels");
    assert!(sources("kernels").iter().any(|(_, t)| t.contains("allow(unsafe_code)")), "the kernels are where unsafe lives");
}

/// The model does file I/O only for checkpoints (and reads the process's
/// CPU time from `/proc/self/stat`), and knows no loss or optimiser.
#[test]
fn the_model_knows_no_loss_and_reads_only_checkpoints() {
    for (path, text) in sources("model") {
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            assert!(!(line.contains("loss") || line.contains("optim")), "{path}: {line}");
            if !path.ends_with("checkpoint.rs") {
                assert!(!line.contains("std::fs") || line.contains("/proc/self/stat"), "{path} does file I/O: {line}");
            }
        }
    }
}

/// Initial weights, dropout masks, data order and augmentation come from
/// explicit seeds: no code draws from burn's process-wide RNG (tensor
/// random fills, burn's random initialisers), so runs are reproducible in
/// one process with tests in parallel threads.
#[test]
fn seeded_code_never_draws_from_burns_global_rng() {
    let random_init = ["Initializer::Normal", "Initializer::Uniform", "Initializer::Kaiming", "Initializer::Xavier"];
    for c in ["kernels", "model", "transfer", "data-split"] {
        for (path, text) in sources(c) {
            for line in text.lines() {
                let global = line.contains("Tensor::random") || line.contains("tensor::Distribution") || random_init.iter().any(|i| line.contains(i));
                assert!(!global, "{path} draws from burn's global RNG: {line}");
            }
        }
    }
}

/// The sections of ARCHITECTURE.md's code map: `(crate, text)`.
fn code_map() -> Vec<(String, String)> {
    let arch = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let map = arch.split("## Code map").nth(1).expect("a code map").split("\n## ").next().expect("text").to_string();
    map.split("\n### ")
        .skip(1)
        .map(|s| {
            let (title, body) = s.split_once('\n').expect("title");
            (title.trim().trim_matches('`').to_string(), body.to_string())
        })
        .collect()
}

#[test]
fn the_code_map_names_every_source_file() {
    let map = code_map();
    let titles: Vec<&str> = map.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(titles, CRATES, "a section per crate, in the order of CRATES");
    for (krate, body) in &map {
        let files = sources(krate);
        for (path, _) in &files {
            let name = path.rsplit('/').next().expect("name");
            if ["lib.rs", "main.rs", "error.rs"].contains(&name) {
                continue;
            }
            assert!(body.contains(&format!("`{name}`")), "ARCHITECTURE.md's `{krate}` section does not name `{name}`");
        }
        // and names no file that is gone
        for named in body.split('`').skip(1).step_by(2).filter(|w| w.ends_with(".rs") && !w.contains('/')) {
            assert!(
                files.iter().any(|(p, _)| p.ends_with(&format!("/{named}"))),
                "ARCHITECTURE.md's `{krate}` section names `{named}`, which {krate}/src lacks"
            );
        }
    }
}

#[test]
fn every_invariant_names_a_test_that_exists() {
    let mut code = String::new();
    for c in CRATES {
        let mut files = Vec::new();
        rust_files(&root().join(c), &mut files);
        for f in files {
            code.push_str(&std::fs::read_to_string(f).expect("utf-8"));
        }
    }
    let map = code_map();
    let mut count = 0;
    for (krate, body) in &map {
        for line in body.lines().filter(|l| l.starts_with("**Architecture Invariant:**")) {
            let test = line
                .split("(checked by `")
                .nth(1)
                .and_then(|t| t.split('`').next())
                .unwrap_or_else(|| panic!("{krate}: an invariant without `(checked by `test`)`: {line}"));
            assert!(code.contains(&format!("fn {test}(")), "{krate}: the invariant's test `{test}` does not exist");
            count += 1;
        }
    }
    assert!(count >= 10, "{count} invariants");
}

/// `cargo fmt --check` is clean (the workspace's `rustfmt.toml`: 160
/// columns). rustfmt is part of every rustup toolchain; where it is missing
/// the test says so and skips, and fails under `CI=true`.
#[test]
fn the_code_is_cargo_fmt_clean() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo).args(["fmt", "--all", "--check"]).current_dir(root()).output().expect("cargo runs");
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("not installed") || err.contains("no such command") {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but rustfmt is missing: {err}");
        eprintln!("SKIP: rustfmt not installed (rustup component add rustfmt)");
        return;
    }
    assert!(out.status.success(), "cargo fmt --check wants changes (run `cargo fmt`):\n{}", String::from_utf8_lossy(&out.stdout));
}

/// Every mention of the protocol in the workspace's sources and documents
/// points at the repository's own `docs/PROTOCOL.md`, and a cited section
/// (`§a` …) is one that file has.
#[test]
fn every_protocol_reference_points_at_the_repositorys_own() {
    let protocol = std::fs::read_to_string(root().join("docs/PROTOCOL.md")).expect("docs/PROTOCOL.md exists");
    let sections: Vec<String> = protocol.lines().filter_map(|l| l.strip_prefix("## §")).filter_map(|l| l.chars().next()).map(|c| format!("§{c}")).collect();
    assert!(sections.len() >= 6, "{sections:?}");
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root().join(krate), &mut files);
    }
    for doc in ["README.md", "ARCHITECTURE.md", "docs"] {
        let p = root().join(doc);
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).expect("readable").flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "md")));
        } else {
            files.push(p);
        }
    }
    let mut checked = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).expect("utf-8");
        for (i, _) in text.match_indices("PROTOCOL.md") {
            let rel = f.strip_prefix(root()).expect("inside").display().to_string();
            if rel == "docs/PROTOCOL.md" || rel == "xtask/tests/tidy.rs" {
                continue;
            }
            let before = &text[..i];
            assert!(before.ends_with("docs/"), "{rel}: a PROTOCOL.md reference that is not docs/PROTOCOL.md");
            let after: String = text[i + "PROTOCOL.md".len()..].chars().take(3).collect();
            if let Some(sec) = after.trim_start().strip_prefix('§') {
                let cited = format!("§{}", sec.chars().next().expect("a letter"));
                assert!(sections.contains(&cited), "{rel} cites {cited}, which docs/PROTOCOL.md does not have");
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} references");
}

/// Layer counts come from their constants (`records::MAX_N`,
/// `model::NUM_LAYERS`), not from literals: no `1..=7` in the analysis and
/// no forward pass to a literal 8th layer in training.
#[test]
fn layer_counts_are_named_not_spelled() {
    for (path, text) in sources("analysis").into_iter().chain(sources("transfer")) {
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(!code.contains("1..=7"), "{path}:{}: `1..=7` (use records::MAX_N)", i + 1);
            assert!(!(code.contains("forward_range(") && code.contains(", 8,")), "{path}:{}: a literal top layer (use model::NUM_LAYERS)", i + 1);
        }
    }
}

/// The sweep folder's layout is spelled in one place, `records::SweepLayout`
/// (with `run_path`, `curve_path` beside it): no other source names its
/// files or folders.
#[test]
fn the_sweep_layout_is_spelled_once() {
    let words = [
        "\"plan.json\"",
        "\"command.txt\"",
        "\"final.params\"",
        "\"jobs\"",
        "join(\"records\")",
        "\"report/filters\"",
        "\"curves\"",
        "\"records/runs\"",
        "join(\"runs\")",
        "join(\"report\")",
    ];
    let mut checked = 0;
    for krate in ["analysis", "transfer", "cli", "xtask"] {
        for (path, text) in sources(krate) {
            // a file's own tests may build folders by hand
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for w in words {
                assert!(!code.contains(w), "{path}: spells the sweep layout ({w}); use records::SweepLayout");
            }
            checked += 1;
        }
    }
    let records = std::fs::read_to_string(root().join("records/src/record.rs")).expect("record.rs");
    assert!(words.iter().filter(|w| records.contains(*w)).count() >= 6, "SweepLayout spells the layout");
    assert!(checked > 20);
}

/// The CLI parses flags and calls: the split grammar lives in
/// `data_split::split::SplitArg` (resolved by `transfer::spec::ChosenSplit`),
/// not in the CLI's source.
#[test]
fn the_cli_has_no_split_grammar() {
    for (path, text) in sources("cli") {
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for w in ["split_once(", "\"random\"", "\"natman\"", "\"whole\""] {
                assert!(!code.contains(w), "{path}:{}: `{w}`: the split grammar belongs to data_split::split::SplitArg", i + 1);
            }
        }
    }
}

/// No function takes so many arguments that clippy objects, except the
/// SIMD twins' macro, whose arguments are a kernel's operands.
#[test]
fn no_too_many_arguments_allowance() {
    for krate in CRATES {
        for (path, text) in sources(krate) {
            if path == "kernels/src/simd.rs" {
                assert_eq!(text.matches("too_many_arguments").count(), 1, "{path}: the macro's one allowance");
                continue;
            }
            assert!(!text.contains("too_many_arguments"), "{path}: bundle the arguments into a type instead of allowing clippy::too_many_arguments");
        }
    }
}

/// The analysis names its quantities by `analysis::Quantity` and reads CKA
/// pairs by their typed columns: no quantity's name or pair's label is
/// written as a string outside `quantity.rs`, or parsed back from one.
#[test]
fn quantities_are_typed_not_spelled() {
    let names = [
        "\"coadaptation\"",
        "\"specificity\"",
        "\"specificity_growth\"",
        "\"transfer_drop\"",
        "\"finetune_recovery",
        "\"selffer_ft_vs_base\"",
        "\"lasting_boost",
        "\"nolearn_drop\"",
        "\"random_halves_gap\"",
        "_drop\"",
        "_relative\"",
        "_vs_own_base",
        // CKA pairs are read by their typed columns, not by their label
        "source-vs",
        "-vs-",
        "rsplit_once(\"-r\")",
    ];
    let mut checked = 0;
    for (path, text) in sources("analysis") {
        if path.ends_with("quantity.rs") {
            continue;
        }
        // a file's own tests may build rows by hand
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (i, line) in code.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(!code.contains("strip_suffix(") && !code.contains("strip_prefix("), "{path}:{}: a name parsed back from a string", i + 1);
            for w in names {
                assert!(!code.contains(w), "{path}:{}: the quantity `{w}` spelled as a string (use analysis::Quantity)", i + 1);
            }
        }
        checked += 1;
    }
    assert!(checked >= 8);
}

/// The record's columns are named by `records::column` in the analysis:
/// no analysis file spells one in a string (in a `col`, a sort list, an
/// alias, a table's header or a helper's argument), so a renamed column is
/// one edit and a typo a compile error. The exceptions are words that only
/// share a column's spelling, each listed.
#[test]
fn the_analysis_names_record_columns_by_their_constants() {
    let record = std::fs::read_to_string(root().join("records/src/record.rs")).expect("records/src/record.rs");
    let module = record.split("pub mod column {").nth(1).expect("the column module").split("\n}").next().expect("its body");
    let names: Vec<&str> = module.lines().filter_map(|l| l.trim().strip_prefix("pub const ")).filter_map(|l| l.split('"').nth(1)).collect();
    assert!(names.len() > 40 && names.contains(&"top1") && names.contains(&"dataset_fingerprint"), "{names:?}");
    // English, and a key of schedule.json
    let not_columns = ["plural(middle.len(), \"layer\")", "s[\"batch_size\"]"];
    for (path, text) in sources("analysis") {
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (i, line) in code.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//")) {
            let line = not_columns.iter().fold(line.to_string(), |l, w| l.replace(w, ""));
            for name in &names {
                assert!(!line.contains(&format!("\"{name}\"")), "{path}:{}: the column `{name}` spelled: name it by records::column", i + 1);
            }
        }
    }
}
