//! The compiler: SOM source to verified-ready [`CompiledClass`]es.
//!
//! Pipeline: [`lexer`] → [`parser`] (AST in [`ast`]) → capture analysis
//! (`scope`) → code generation (`codegen`, `control`) → [`assembler`].
//! Superclass layouts come from a [`ClassResolver`] (the class path, then
//! the kernel).

#![forbid(unsafe_code)]

pub mod assembler;
pub mod ast;
pub mod classpath;
mod codegen;
mod control;
pub mod error;
pub mod inline;
pub mod lexer;
pub mod parser;
mod scope;

use std::path::Path;

pub(crate) use crate::with_stack;

pub use classpath::{ClassPath, ClassResolver, ClassShape, class_object_fields, kernel_shape};
pub use codegen::MethodContext;
pub use error::{CompileError, Result, Span};
pub use parser::{parse_class, parse_method, parse_statements};

use crate::bytecode::{CompiledClass, CompiledCode};
use ast::{ClassDef, MethodDef, SuperclassSpec};

/// Options that change what the compiler accepts.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileOptions {
    /// Assigning to an undeclared name stores a global (for interactive
    /// evaluation) instead of being an error.
    pub allow_global_assignment: bool,
}

/// Reads and compiles a class file, finding superclasses through `resolver`
/// (the file's own directory is searched too).
pub fn compile_file(path: &Path, resolver: &dyn ClassResolver) -> Result<CompiledClass> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| CompileError::file_level(&file, format!("cannot read: {e}")))?;
    let source = String::from_utf8(bytes).map_err(|e| {
        CompileError::file_level(&file, format!("not UTF-8 text (at byte {})", e.utf8_error().valid_up_to()))
    })?;
    compile_class_source(&file, &source, path.parent(), resolver)
}

/// Compiles the class defined by `source`; `dir` is the directory its
/// superclass may be found in besides the resolver's.
pub fn compile_class_source(
    file: &str,
    source: &str,
    dir: Option<&Path>,
    resolver: &dyn ClassResolver,
) -> Result<CompiledClass> {
    let def = parse_class(file, source)?;
    compile_class_def(file, source, &def, dir, resolver)
}

/// Compiles a parsed class definition.
pub fn compile_class_def(
    file: &str,
    source: &str,
    def: &ClassDef,
    dir: Option<&Path>,
    resolver: &dyn ClassResolver,
) -> Result<CompiledClass> {
    let (superclass, super_span) = match &def.superclass {
        SuperclassSpec::Nil => (None, def.name.span),
        SuperclassSpec::Default => (Some("Object".to_string()), def.name.span),
        SuperclassSpec::Named(id) => (Some(id.name.clone()), id.span),
    };
    if superclass.as_deref() == Some(def.name.name.as_str()) {
        return Err(CompileError::new(
            file,
            source,
            super_span,
            format!("class {} inherits from itself", def.name.name),
        ));
    }
    let shape = match &superclass {
        Some(name) => resolver.shape(name, dir).map_err(|e| {
            if e.span.line == 0 {
                CompileError::new(file, source, super_span, format!("cannot find superclass {name}: {}", e.message))
            } else {
                e
            }
        })?,
        None => ClassShape { superclass: None, fields: Vec::new(), class_fields: class_object_fields() },
    };
    for (own, inherited, what) in
        [(&def.fields, &shape.fields, "field"), (&def.class_fields, &shape.class_fields, "class field")]
    {
        if let Some(f) = own.iter().find(|f| inherited.contains(&f.name)) {
            return Err(CompileError::new(
                file,
                source,
                f.span,
                format!("{what} '{}' is already defined in a superclass", f.name),
            ));
        }
    }
    let mut all_fields = shape.fields.clone();
    all_fields.extend(def.fields.iter().map(|f| f.name.clone()));
    let mut all_class_fields = shape.class_fields.clone();
    all_class_fields.extend(def.class_fields.iter().map(|f| f.name.clone()));
    let options = CompileOptions::default();
    let methods = compile_methods(file, source, &def.methods, &all_fields, options)?;
    let class_methods = compile_methods(file, source, &def.class_methods, &all_class_fields, options)?;
    Ok(CompiledClass {
        name: def.name.name.clone(),
        superclass,
        inherited_fields: shape.fields,
        fields: def.fields.iter().map(|f| f.name.clone()).collect(),
        inherited_class_fields: shape.class_fields,
        class_fields: def.class_fields.iter().map(|f| f.name.clone()).collect(),
        methods,
        class_methods,
        file: file.to_string(),
    })
}

fn compile_methods(
    file: &str,
    source: &str,
    defs: &[MethodDef],
    fields: &[String],
    options: CompileOptions,
) -> Result<Vec<CompiledCode>> {
    let ctx = MethodContext { file, source, fields, allow_global_assignment: options.allow_global_assignment };
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(defs.len());
    for def in defs {
        if seen.contains(&def.selector.as_str()) {
            return Err(CompileError::new(file, source, def.span, format!("method {} is defined twice", def.selector)));
        }
        seen.push(&def.selector);
        out.push(codegen::compile_method(&ctx, def)?);
    }
    Ok(out)
}

/// Compiles one method from source (as `Class>>compile:` does) for a
/// receiver with `fields`.
pub fn compile_method_source(
    file: &str,
    source: &str,
    fields: &[String],
    options: CompileOptions,
) -> Result<CompiledCode> {
    let def = parse_method(file, source)?;
    let ctx = MethodContext { file, source, fields, allow_global_assignment: options.allow_global_assignment };
    codegen::compile_method(&ctx, &def)
}

#[cfg(test)]
mod tests;
