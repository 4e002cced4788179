//! Replays the gateway fuzz corpora and crash reproducers (gateway/fuzz/corpus/<target>/,
//! gateway/fuzz/regressions/<target>/) through the fuzz targets' bodies on stable Rust.

#[path = "../fuzz/bodies.rs"]
mod bodies;

use std::path::PathBuf;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for sub in ["corpus", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(sub).join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&f).unwrap();
            let r = std::panic::catch_unwind(|| body(&data));
            assert!(r.is_ok(), "{} panics", f.display());
            n += 1;
        }
    }
    n
}

#[test]
fn config_parse_corpus() {
    assert!(replay("config_parse", bodies::config_parse) >= 4);
}

#[test]
fn config_seeds_are_valid() {
    // The seeds are the shipped example configs: they parse.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/config_parse");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        {
            let text = std::fs::read_to_string(&p).unwrap();
            gateway::config::parse(&text, std::path::Path::new("/nonexistent"))
                .unwrap_or_else(|e| panic!("{}: {e:?}", p.display()));
        }
    }
}

#[test]
fn nat_t_classify_corpus() {
    assert!(replay("nat_t_classify", bodies::nat_t_classify) >= 5);
}
