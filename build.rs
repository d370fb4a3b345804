//! Generates `include/usersync.h` from the `extern "C"` functions in `src/ffi/` with cbindgen
//! (pinned to 0.29.2: later versions emit C23 enum syntax that PHP's FFI parser rejects).
//! The header is committed; `make check-header` fails when the committed copy is stale.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // So a hand edit of the committed header is regenerated (and caught by make check-header).
    println!("cargo:rerun-if-changed=include/usersync.h");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let header = match cbindgen::generate_with_config(root, config) {
        Ok(bindings) => {
            let mut out = Vec::new();
            bindings.write(&mut out);
            out
        }
        Err(e) => {
            // A syntax error in src/ is reported better by rustc itself.
            println!("cargo:warning=usersync.h not regenerated: {e}");
            return;
        }
    };
    let path = root.join("include/usersync.h");
    // Write only on change, so an unchanged header keeps its timestamp; a read-only source
    // tree (a crate built as a dependency) just keeps the shipped header.
    if std::fs::read(&path).ok().as_deref() != Some(header.as_slice()) {
        if let Err(e) = std::fs::create_dir_all(root.join("include"))
            .and_then(|_| std::fs::write(&path, &header))
        {
            println!("cargo:warning=could not write {}: {e}", path.display());
        }
    }
}
