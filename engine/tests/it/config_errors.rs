//! Every bad-config fixture's error text is pinned, and every good one compiles.

use std::path::Path;

const CONFIG_DIR: &str = "tests/fixtures/config";

fn errors_of(fixture: &str) -> String {
    let file = Path::new(CONFIG_DIR).join("bad").join(fixture);
    match ragline::config::load(&file, Path::new(CONFIG_DIR)) {
        Ok(_) => panic!("{fixture} should not compile"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_fixture_compiles() {
    let spec = ragline::config::load(
        Path::new("tests/fixtures/config/good/minimal.yaml"),
        Path::new(CONFIG_DIR),
    )
    .unwrap();
    assert_eq!(spec.name, "fixture");
    assert_eq!(spec.retrieve.top_k, 5);
    assert!(spec.ingest.sources.dirs[0].ends_with("docs"));
    // The settings fingerprint documents were stored under: sha256 of the length-prefixed
    // parts `Markdown/200/30`, `EmbedSpec { provider: Hash, dims: 384 }`, the default
    // metadata as JSON, `[]` and no tag script, computed outside ragline. A change here
    // re-ingests every document of every existing index.
    assert_eq!(spec.ingest.fingerprint, "0460eee24f379a3a");
}

#[test]
fn demo_pipelines_compile() {
    let specs = ragline::config::load_dir(Path::new("..")).unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["engineering", "hr", "legal", "marketing"]);
}

macro_rules! bad_fixture {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(errors_of(concat!(stringify!($name), ".yaml")));
        }
    )*};
}

bad_fixture!(
    unknown_key,
    wrong_type,
    wrong_type_deep,
    missing_prompt,
    undefined_model,
    bad_fusion_weights,
    weight_out_of_range,
    overlap_too_big,
    max_tokens_over_window,
    syntax_error,
    duplicate_key,
    missing_route,
    unknown_provider,
    bad_providers,
    option_of_another_provider,
    provider_option_missing,
    provider_as_a_key,
    bad_name,
    missing_source_dir,
    prompt_unknown_variable,
    several_errors,
    prompt_path_escape,
    script_syntax_error,
    script_without_entry_function,
    tag_script_missing,
    split_unknown_version,
    prompt_front_matter_unknown_key,
    bad_s3_store,
    bad_cache,
    cache_redis_options,
);

#[test]
fn every_bad_fixture_is_pinned() {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(CONFIG_DIR).join("bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 30, "{names:?}");
    for name in names {
        let stem = name.trim_end_matches(".yaml");
        let snapshot = format!("tests/it/snapshots/it__config_errors__{stem}.snap");
        assert!(
            Path::new(&snapshot).is_file(),
            "{name} has no snapshot test ({snapshot})"
        );
    }
}

#[test]
fn validate_cli_prints_file_line_col_and_exits_1() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ragline"))
        .args([
            "--config-dir",
            CONFIG_DIR,
            "validate",
            "tests/fixtures/config/bad/undefined_model.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with(
            "tests/fixtures/config/bad/undefined_model.yaml:12:12: route.default.model: model `gpt` is not defined"
        ),
        "{stdout}"
    );
}

#[test]
fn validate_cli_accepts_the_demo_config() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ragline"))
        .args(["--config-dir", "..", "validate"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "ok: 4 pipeline(s) valid");
}

#[test]
fn checked_in_schema_is_current() {
    let generated = serde_json::to_string_pretty(&ragline::config::schema()).unwrap();
    let checked_in = std::fs::read_to_string("../schemas/pipeline.schema.json").unwrap();
    assert_eq!(
        checked_in.trim(),
        generated.trim(),
        "schemas/pipeline.schema.json is stale: run `cargo run -- schema > schemas/pipeline.schema.json`"
    );
}

#[test]
fn checked_in_pricing_schema_is_current() {
    let generated = serde_json::to_string_pretty(&ragline::vocab::pricing::schema()).unwrap();
    let checked_in = std::fs::read_to_string("../schemas/pricing.schema.json").unwrap();
    assert_eq!(
        checked_in.trim(),
        generated.trim(),
        "schemas/pricing.schema.json is stale: run `cargo run -- schema --pricing > schemas/pricing.schema.json`"
    );
}

#[test]
fn checked_in_server_schema_is_current() {
    let generated = serde_json::to_string_pretty(&ragline::config::server::schema()).unwrap();
    let checked_in = std::fs::read_to_string("../schemas/server.schema.json").unwrap();
    assert_eq!(
        checked_in.trim(),
        generated.trim(),
        "schemas/server.schema.json is stale: run `cargo run -- schema --server > schemas/server.schema.json`"
    );
}

#[test]
fn bedrock_example_pipeline_compiles_and_is_not_served() {
    let spec = ragline::config::load(Path::new("../pipelines/examples/bedrock.yaml"), Path::new("..")).unwrap();
    assert_eq!(spec.name, "hr-bedrock");
    assert_eq!(spec.generate.models["pro"].label(), "bedrock/amazon.nova-2-pro-v1:0");
    assert_eq!(spec.ingest.embed.dims(), 1024);
    assert!(spec.pricing.models.contains_key("amazon.nova-2-lite-v1:0"));
    // The loader reads pipelines/*.yaml only.
    let names: Vec<String> = ragline::config::load_dir(Path::new(".."))
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(!names.contains(&"hr-bedrock".to_owned()));
}

#[test]
fn checked_in_access_schema_is_current() {
    let generated = serde_json::to_string_pretty(&ragline::config::access::schema()).unwrap();
    let checked_in = std::fs::read_to_string("../schemas/access.schema.json").unwrap();
    assert_eq!(
        checked_in.trim(),
        generated.trim(),
        "schemas/access.schema.json is stale: run `cargo run -- schema --access > schemas/access.schema.json`"
    );
}
