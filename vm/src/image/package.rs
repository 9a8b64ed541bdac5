//! Packages: a directory of `.som` class files and a `mica.toml` manifest,
//! compiled into one namespace at one version and written as a mini-image.
//!
//! ```toml
//! [package]
//! name = "Geometry"
//! version = "1.2.0"
//! main = "App"          # optional: the class `mica run` starts
//! [imports]
//! Json = "^1.0"         # semantic-version requirements
//! ```
//!
//! The images that satisfy the imports are found among the library paths
//! given (image files, or directories whose `*.mimg` files are searched),
//! with their own imports, and loaded before the package is compiled, so
//! that its classes can subclass theirs and its globals bind to theirs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::loader::{self, Prepared};
use super::writer::{EmitNamespace, WriteSpec};
use super::{ImageError, Result};
use crate::compiler::{ClassPath, compile_class_source};
use crate::universe::{NamespaceId, Universe};

/// A package manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The namespace's name.
    pub name: String,
    /// Its version.
    pub version: semver::Version,
    /// The class `mica run` starts.
    pub main: Option<String>,
    /// The namespaces it imports, with their requirements (in file order).
    pub imports: Vec<(String, semver::VersionReq)>,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads and checks `dir/mica.toml`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("mica.toml");
    let file = path.display().to_string();
    let err = |problem: String| ImageError::new(&file, problem);
    let text = std::fs::read_to_string(&path).map_err(|e| err(format!("cannot read the package manifest: {e}")))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| err(e.to_string().trim_end().to_string()))?;
    for key in table.keys() {
        if key != "package" && key != "imports" {
            return Err(err(format!("unknown section [{key}] (a manifest has [package] and [imports])")));
        }
    }
    let package = table.get("package").and_then(|p| p.as_table()).ok_or_else(|| err("no [package] section".into()))?;
    for key in package.keys() {
        if !["name", "version", "main"].contains(&key.as_str()) {
            return Err(err(format!("unknown key {key:?} in [package] (known: name, version, main)")));
        }
    }
    let text_of = |key: &str| -> Result<Option<String>> {
        match package.get(key) {
            None => Ok(None),
            Some(v) => {
                v.as_str().map(|s| Some(s.to_string())).ok_or_else(|| err(format!("[package] {key} must be a string")))
            }
        }
    };
    let name = text_of("name")?.ok_or_else(|| err("[package] has no name".into()))?;
    if !is_identifier(&name) {
        return Err(err(format!("package name {name:?} is not an identifier (letters, digits, _)")));
    }
    let version_text = text_of("version")?.ok_or_else(|| err("[package] has no version".into()))?;
    let version = semver::Version::parse(&version_text)
        .map_err(|e| err(format!("version {version_text:?} is not a semantic version (like 1.2.0): {e}")))?;
    let main = text_of("main")?;
    if let Some(m) = &main
        && !is_identifier(m)
    {
        return Err(err(format!("main class {m:?} is not a class name")));
    }
    let mut imports = Vec::new();
    if let Some(section) = table.get("imports") {
        let section = section.as_table().ok_or_else(|| err("[imports] must be a table".into()))?;
        for (ns, req) in section {
            let text = req
                .as_str()
                .ok_or_else(|| err(format!("the requirement of {ns} must be a string such as \"^1.0\"")))?;
            let req = semver::VersionReq::parse(text)
                .map_err(|e| err(format!("the requirement {text:?} of {ns} is not a version requirement: {e}")))?;
            if !is_identifier(ns) {
                return Err(err(format!("import {ns:?} is not a namespace name")));
            }
            if ns == &name {
                return Err(err(format!("the package imports itself ({ns})")));
            }
            imports.push((ns.clone(), req));
        }
    }
    Ok(Manifest { name, version, main, imports })
}

/// The images found on the library paths (files, or directories whose
/// `*.mimg` files count), with their metadata.
pub fn library_images(paths: &[PathBuf]) -> Result<Vec<Prepared>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| ImageError::new(path.display().to_string(), format!("cannot read the directory: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "mimg"))
                .collect();
            entries.sort();
            for p in entries {
                out.push(Prepared::open(&p)?);
            }
        } else {
            out.push(Prepared::open(path)?);
        }
    }
    Ok(out)
}

/// Chooses, among `candidates`, the images that satisfy `wanted` (and their
/// own imports, transitively), the highest version of each.
pub fn select_libraries(
    u: &Universe,
    wanted: &[(String, semver::VersionReq)],
    candidates: Vec<Prepared>,
    for_what: &str,
) -> Result<Vec<Prepared>> {
    let mut candidates: Vec<Option<Prepared>> = candidates.into_iter().map(Some).collect();
    let mut chosen: Vec<Prepared> = Vec::new();
    let mut queue: Vec<(String, semver::VersionReq, String)> =
        wanted.iter().map(|(n, r)| (n.clone(), r.clone(), for_what.to_string())).collect();
    while let Some((name, req, by)) = queue.pop() {
        let satisfied = |v: &str| semver::Version::parse(v).is_ok_and(|v| req.matches(&v));
        let loaded = u.namespaces().any(|(_, n)| n.name == name && req.matches(&n.version));
        let picked = chosen.iter().any(|p| p.meta.namespaces.iter().any(|n| n.name == name && satisfied(&n.version)));
        if loaded || picked {
            continue;
        }
        let best = candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                let ns = c.meta.namespaces.iter().find(|n| n.name == name && satisfied(&n.version))?;
                Some((i, semver::Version::parse(&ns.version).ok()?))
            })
            .max_by(|a, b| a.1.cmp(&b.1));
        let Some((i, _)) = best else {
            let mut have: Vec<String> = candidates
                .iter()
                .flatten()
                .flat_map(|c| c.meta.namespaces.iter())
                .filter(|n| n.name == name)
                .map(|n| n.version.clone())
                .collect();
            have.sort();
            let problem = if have.is_empty() {
                format!("it imports {name} {req}, and no image on the library path provides {name}")
            } else {
                format!("it imports {name} {req}, but the library path has only {name} {}", have.join(", "))
            };
            return Err(ImageError::new(by, problem));
        };
        let p = candidates[i].take().expect("a candidate is taken once");
        for imp in &p.meta.imports {
            if let Ok(r) = semver::VersionReq::parse(&imp.requirement) {
                queue.push((imp.name.clone(), r, p.name.clone()));
            }
        }
        chosen.push(p);
    }
    Ok(chosen)
}

/// Compiles the package in `dir` against the libraries on `lib_paths` and
/// answers its image.
pub fn build(u: &mut Universe, dir: &Path, lib_paths: &[PathBuf]) -> Result<Vec<u8>> {
    let manifest = read_manifest(dir)?;
    let dir_name = dir.display().to_string();
    let libraries = select_libraries(u, &manifest.imports, library_images(lib_paths)?, &dir_name)?;
    loader::load_all(u, libraries)?;
    let ns = u
        .add_namespace(&manifest.name, manifest.version.clone())
        .map_err(|e| ImageError::new(&dir_name, e.to_string()))?;
    let mut imports = Vec::new();
    for (name, req) in &manifest.imports {
        let id = loader::resolve_import(u, name, &req.to_string(), 0).map_err(|e| ImageError::new(&dir_name, e))?;
        imports.push(id);
    }
    u.namespace_mut(ns).imports = imports;
    u.namespace_mut(ns).main = manifest.main.clone();
    compile_into(u, ns, dir)?;
    if let Some(main) = &manifest.main
        && u.own_binding(ns, main).is_none_or(|b| !u.is_class(b.slot(crate::layout::BINDING_VALUE)))
    {
        return Err(ImageError::new(
            dir.join("mica.toml").display().to_string(),
            format!("main class {main} is not defined by the package"),
        ));
    }
    let requirements: HashMap<String, String> =
        manifest.imports.iter().map(|(n, r)| (n.clone(), r.to_string())).collect();
    let spec = WriteSpec {
        namespaces: vec![EmitNamespace::of(u, ns)],
        requirements,
        base: image_format::window::base_for(format!("{} {}", manifest.name, manifest.version).as_bytes()),
        flags: image_format::Flags::empty(),
        shared: Default::default(),
    };
    super::writer::write(u, &spec).map_err(|e| ImageError::new(&dir_name, e))
}

/// Compiles every class file of `dir` into namespace `ns`, superclasses
/// first.
pub fn compile_into(u: &mut Universe, ns: NamespaceId, dir: &Path) -> Result<()> {
    let dir_name = dir.display().to_string();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ImageError::new(&dir_name, format!("cannot read the package directory: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "som"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ImageError::new(&dir_name, "the package has no .som class files"));
    }
    // The package's class names are its own globals, even where the kernel
    // or an import has a class of the same name.
    for f in &files {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let sym = u.intern(&stem).map_err(|e| ImageError::new(&dir_name, e.to_string()))?;
        u.binding(ns, sym).map_err(|e| ImageError::new(&dir_name, e.to_string()))?;
    }
    let mut class_path = ClassPath::new(vec![dir.to_path_buf()]);
    class_path.set_kernel_shapes(u.class_shapes(ns));
    let mut pending = Vec::new();
    for f in &files {
        let file = f.display().to_string();
        let source = std::fs::read(f)
            .map_err(|e| ImageError::new(&file, format!("cannot read: {e}")))
            .and_then(|b| String::from_utf8(b).map_err(|_| ImageError::new(&file, "not UTF-8 text")))?;
        let compiled = compile_class_source(&file, &source, Some(dir), &class_path)
            .map_err(|e| ImageError { file: String::new(), problem: e.to_string() })?;
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if compiled.name != stem {
            return Err(ImageError::new(
                &file,
                format!("defines class {}, but its file is named {stem}.som", compiled.name),
            ));
        }
        pending.push(compiled);
    }
    while !pending.is_empty() {
        let mut ready = None;
        for (i, c) in pending.iter().enumerate() {
            let ok = match &c.superclass {
                None => true,
                Some(s) if pending.iter().any(|p| &p.name == s) => false,
                Some(s) => {
                    let sym = u.intern(s).map_err(|e| ImageError::new(&c.file, e.to_string()))?;
                    u.global_from(ns, sym).is_some_and(|v| u.is_class(v))
                }
            };
            if ok {
                ready = Some(i);
                break;
            }
        }
        let Some(i) = ready else {
            let c = &pending[0];
            let sup = c.superclass.clone().unwrap_or_default();
            let problem = if pending.iter().any(|p| p.name == sup) {
                format!("class {} and its superclasses form a cycle", c.name)
            } else {
                format!("the superclass {sup} of {} is not defined by the package, its imports or the kernel", c.name)
            };
            return Err(ImageError::new(&c.file, problem));
        };
        let compiled = pending.remove(i);
        u.install_class(&compiled, ns).map_err(|e| ImageError::new(&compiled.file, e.to_string()))?;
    }
    Ok(())
}
