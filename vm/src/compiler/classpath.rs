//! Finding superclasses: the class path, the file's own directory, and the
//! kernel classes Mica provides, so that field indices account for every
//! inherited field.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::ast::{ClassDef, SuperclassSpec};
use super::error::{CompileError, Result};
use super::parser::parse_class;

/// The inherited layout of a class: what a subclass needs to number its
/// fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassShape {
    /// The superclass's name (`None` for a root class).
    pub superclass: Option<String>,
    /// Every instance field, inherited first.
    pub fields: Vec<String>,
    /// Every class-side field, inherited first.
    pub class_fields: Vec<String>,
}

/// Answers the shape of a class by name.
pub trait ClassResolver {
    /// The shape of `name`, or an error if it cannot be found or compiled.
    /// `from_dir` is the directory of the file that asks.
    fn shape(&self, name: &str, from_dir: Option<&Path>) -> Result<ClassShape>;
}

/// The fields every class object has before its class-side fields: the VM's
/// own data (superclass, name, methods, ...; see `vm::layout`). Their names
/// are not identifiers, so Smalltalk code cannot name them, but they count
/// when class-side fields are numbered — class-side fields are fields of
/// the class object like any other.
pub fn class_object_fields() -> Vec<String> {
    crate::layout::CLASS_FIELD_NAMES.iter().map(|n| format!("<{n}>")).collect()
}

/// The shape of a kernel class, if `name` is one: read from the kernel
/// sources built into Mica (the same sources its kernel image is made
/// from), so a class on the class path can subclass any kernel class.
pub fn kernel_shape(name: &str) -> Option<ClassShape> {
    static SHAPES: OnceLock<HashMap<String, ClassShape>> = OnceLock::new();
    SHAPES.get_or_init(kernel_shapes).get(name).cloned()
}

/// The superclass `def` names (`None` for a root class).
fn superclass_name(def: &ClassDef) -> Option<String> {
    match &def.superclass {
        SuperclassSpec::Nil => None,
        SuperclassSpec::Default => Some("Object".to_string()),
        SuperclassSpec::Named(id) => Some(id.name.clone()),
    }
}

/// The shape of the class `def` over its superclass's shape (`None` for a
/// root class).
fn shape_over(def: &ClassDef, inherited: Option<ClassShape>) -> ClassShape {
    let mut shape = inherited.unwrap_or_else(|| ClassShape {
        superclass: None,
        fields: Vec::new(),
        class_fields: class_object_fields(),
    });
    shape.superclass = superclass_name(def);
    shape.fields.extend(def.fields.iter().map(|f| f.name.clone()));
    shape.class_fields.extend(def.class_fields.iter().map(|f| f.name.clone()));
    shape
}

/// The shapes of every kernel class, from the kernel sources.
fn kernel_shapes() -> HashMap<String, ClassShape> {
    let defs: HashMap<&str, ClassDef> = crate::universe::KERNEL_SOURCES
        .iter()
        .filter_map(|(name, source)| parse_class(&format!("kernel/{name}.som"), source).ok().map(|d| (*name, d)))
        .collect();
    fn shape_of(name: &str, defs: &HashMap<&str, ClassDef>, out: &mut HashMap<String, ClassShape>, depth: usize) {
        if out.contains_key(name) || depth > defs.len() {
            return;
        }
        let Some(def) = defs.get(name) else { return };
        let inherited = match superclass_name(def) {
            Some(sup) => {
                shape_of(&sup, defs, out, depth + 1);
                let Some(inherited) = out.get(&sup).cloned() else { return };
                Some(inherited)
            }
            None => None,
        };
        let mut shape = shape_over(def, inherited);
        // Instances of Class (and so of Metaclass) are class objects: the
        // VM's own fields come first.
        if name == "Class" {
            shape.fields.splice(0..0, class_object_fields());
        }
        out.insert(name.to_string(), shape);
    }
    let mut out = HashMap::new();
    for name in defs.keys() {
        shape_of(name, &defs, &mut out, 0);
    }
    out
}

/// Directories searched in order for `Name.som`, then the kernel.
pub struct ClassPath {
    dirs: Vec<PathBuf>,
    cache: RefCell<HashMap<String, ClassShape>>,
    in_progress: RefCell<Vec<String>>,
    kernel: HashMap<String, ClassShape>,
}

impl ClassPath {
    /// A class path of these directories.
    pub fn new(dirs: Vec<PathBuf>) -> ClassPath {
        ClassPath { dirs, cache: RefCell::default(), in_progress: RefCell::default(), kernel: HashMap::new() }
    }

    /// Sets the shapes of the classes of the running kernel, used when a
    /// class is not found in the directories (instead of the shapes read
    /// from the built-in kernel sources).
    pub fn set_kernel_shapes(&mut self, shapes: HashMap<String, ClassShape>) {
        self.kernel = shapes;
        self.cache.borrow_mut().clear();
    }

    /// Forgets the cached shape of `name` (after it was redefined).
    pub fn forget(&self, name: &str) {
        self.cache.borrow_mut().remove(name);
    }

    fn kernel_shape(&self, name: &str) -> Option<ClassShape> {
        if self.kernel.is_empty() { kernel_shape(name) } else { self.kernel.get(name).cloned() }
    }

    /// Parses a `dir:dir:...` class-path argument.
    pub fn parse(arg: &str) -> ClassPath {
        ClassPath::new(arg.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect())
    }

    /// The directories, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Where `Name.som` is: the class path first, then `from_dir`.
    pub fn find_file(&self, name: &str, from_dir: Option<&Path>) -> Option<PathBuf> {
        let file = format!("{name}.som");
        self.dirs.iter().map(PathBuf::as_path).chain(from_dir).map(|d| d.join(&file)).find(|p| p.is_file())
    }

    fn searched(&self, from_dir: Option<&Path>) -> String {
        let mut dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        if let Some(d) = from_dir {
            dirs.push(d.display().to_string());
        }
        if dirs.is_empty() { "no directories".to_string() } else { dirs.join(", ") }
    }
}

impl ClassResolver for ClassPath {
    fn shape(&self, name: &str, from_dir: Option<&Path>) -> Result<ClassShape> {
        if let Some(shape) = self.cache.borrow().get(name) {
            return Ok(shape.clone());
        }
        // The VM's own classes are not replaced by files of the same name.
        if crate::universe::is_vm_class_name(name)
            && let Some(shape) = self.kernel_shape(name)
        {
            return Ok(shape);
        }
        let Some(path) = self.find_file(name, from_dir) else {
            return self.kernel_shape(name).ok_or_else(|| {
                CompileError::file_level(
                    &format!("{name}.som"),
                    format!("class {name} not found (searched {})", self.searched(from_dir)),
                )
            });
        };
        if self.in_progress.borrow().iter().any(|n| n == name) {
            let chain = self.in_progress.borrow().join(" -> ");
            return Err(CompileError::file_level(
                &path.display().to_string(),
                format!("the superclass chain is cyclic: {chain} -> {name}"),
            ));
        }
        self.in_progress.borrow_mut().push(name.to_string());
        let result = self.shape_of_file(name, &path);
        self.in_progress.borrow_mut().pop();
        let shape = result?;
        self.cache.borrow_mut().insert(name.to_string(), shape.clone());
        Ok(shape)
    }
}

impl ClassPath {
    fn shape_of_file(&self, name: &str, path: &Path) -> Result<ClassShape> {
        let file = path.display().to_string();
        let source =
            std::fs::read_to_string(path).map_err(|e| CompileError::file_level(&file, format!("cannot read: {e}")))?;
        let def = parse_class(&file, &source)?;
        if def.name.name != name {
            return Err(CompileError::new(
                &file,
                &source,
                def.name.span,
                format!("file {name}.som defines class {} instead of {name}", def.name.name),
            ));
        }
        let inherited = match superclass_name(&def) {
            Some(sup) => Some(self.shape(&sup, path.parent())?),
            None => None,
        };
        Ok(shape_over(&def, inherited))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mica-cp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn kernel_shapes_come_from_the_kernel_sources() {
        let vector = kernel_shape("Vector").expect("Vector is a kernel class");
        assert_eq!(vector.superclass.as_deref(), Some("Object"));
        assert_eq!(vector.fields, ["first", "last", "storage"]);
        assert_eq!(kernel_shape("Metaclass").expect("kernel").fields, class_object_fields());
        assert_eq!(kernel_shape("Symbol").expect("kernel").superclass.as_deref(), Some("String"));
        assert!(kernel_shape("Block4").is_some() && kernel_shape("Dictionary").is_some());
        assert!(kernel_shape("NoSuchClass").is_none());
        // A file on no class path can subclass any of them.
        let dir = temp_dir("kernel-sub");
        std::fs::write(dir.join("V.som"), "V = Vector ( |extra| )").expect("write");
        let shape = ClassPath::new(vec![dir.clone()]).shape("V", None).expect("found");
        assert_eq!(shape.fields, ["first", "last", "storage", "extra"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn inherits_fields_through_files_and_kernel() {
        let dir = temp_dir("inherit");
        std::fs::write(dir.join("A.som"), "A = ( |a b| ---- |ca| )").expect("write");
        std::fs::write(dir.join("B.som"), "B = A ( |c| ---- |cb| )").expect("write");
        let cp = ClassPath::new(vec![dir.clone()]);
        let shape = cp.shape("B", None).expect("found");
        assert_eq!(shape.fields, ["a", "b", "c"]);
        assert_eq!(shape.class_fields[class_object_fields().len()..], ["ca", "cb"]);
        assert_eq!(shape.superclass.as_deref(), Some("A"));
        assert_eq!(cp.shape("True", None).expect("kernel").fields.len(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn reports_missing_and_cyclic_classes() {
        let dir = temp_dir("cycle");
        std::fs::write(dir.join("X.som"), "X = Y ()").expect("write");
        std::fs::write(dir.join("Y.som"), "Y = X ()").expect("write");
        let cp = ClassPath::new(vec![dir.clone()]);
        let e = cp.shape("X", None).expect_err("cyclic");
        assert!(e.message.contains("cyclic"), "{e}");
        let e = cp.shape("Nowhere", None).expect_err("missing");
        assert!(e.message.contains("class Nowhere not found"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
