//! `switchboard.d.ts`: the host API's declarations for editors, written by
//! `switchboard types`. Tests keep it, the prelude and the host's dispatcher in step.

use std::path::{Path, PathBuf};

/// The declarations, as shipped.
pub const DECLARATIONS: &str = include_str!("../../automations/switchboard.d.ts");

/// A minimal `tsconfig.json` for a directory of scripts.
pub const TSCONFIG: &str = r#"{ "compilerOptions": { "target": "es2022", "module": "es2022", "moduleResolution": "bundler", "strict": true, "noEmit": true }, "include": ["*.ts"] }
"#;

/// Writes `switchboard.d.ts` (and a `tsconfig.json` if there is none) into `dir`.
pub fn write_types(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let dts = dir.join("switchboard.d.ts");
    std::fs::write(&dts, DECLARATIONS)?;
    written.push(dts);
    let tsconfig = dir.join("tsconfig.json");
    if !tsconfig.exists() {
        std::fs::write(&tsconfig, TSCONFIG)?;
        written.push(tsconfig);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::rc::Rc;

    use futures::channel::oneshot;
    use oxc::allocator::Allocator;
    use oxc::ast::ast::{Declaration, Statement, TSSignature, TSType, TSTypeName};
    use oxc::parser::Parser;
    use oxc::span::SourceType;
    use serde_json::{Value, json};

    use super::*;
    use crate::script::host::HOST_FUNCTIONS;
    use crate::script::protocol::{EngineLimits, HostResult, RunRequest, ScriptOutcome};
    use crate::script::sandbox::runtime::{self, Bridge};
    use crate::script::transpile::transpile;

    /// Dotted names of everything `declare global` declares (functions and methods),
    /// following the file's own interfaces through references and intersections.
    fn declared() -> BTreeSet<String> {
        type Interfaces<'b, 'a> = HashMap<String, &'b [TSSignature<'a>]>;
        fn signatures(
            prefix: &str,
            list: &[TSSignature<'_>],
            interfaces: &Interfaces<'_, '_>,
            out: &mut BTreeSet<String>,
        ) {
            for member in list {
                match member {
                    TSSignature::TSMethodSignature(m) => {
                        out.insert(format!("{prefix}.{}", m.key.static_name().unwrap()));
                    }
                    TSSignature::TSPropertySignature(p) => {
                        let name = format!("{prefix}.{}", p.key.static_name().unwrap());
                        if let Some(annotation) = &p.type_annotation {
                            members(&name, &annotation.type_annotation, interfaces, out);
                        }
                    }
                    _ => {}
                }
            }
        }
        fn members(
            prefix: &str,
            ty: &TSType<'_>,
            interfaces: &Interfaces<'_, '_>,
            out: &mut BTreeSet<String>,
        ) {
            match ty {
                TSType::TSTypeLiteral(lit) => signatures(prefix, &lit.members, interfaces, out),
                TSType::TSIntersectionType(both) => {
                    for t in &both.types {
                        members(prefix, t, interfaces, out);
                    }
                }
                TSType::TSTypeReference(r) => {
                    if let TSTypeName::IdentifierReference(id) = &r.type_name
                        && let Some(body) = interfaces.get(id.name.as_str())
                    {
                        signatures(prefix, body, interfaces, out);
                    }
                }
                _ => {}
            }
        }
        let allocator = Allocator::default();
        let parsed = Parser::new(&allocator, DECLARATIONS, SourceType::d_ts()).parse();
        assert!(
            parsed.diagnostics.errors().next().is_none(),
            "switchboard.d.ts does not parse"
        );
        let mut interfaces: Interfaces<'_, '_> = HashMap::new();
        for statement in &parsed.program.body {
            if let Statement::ExportDeclaration(e) = statement
                && let Declaration::TSInterfaceDeclaration(i) = &e.declaration
            {
                interfaces.insert(i.id.name.to_string(), &i.body.body);
            }
        }
        let mut out = BTreeSet::new();
        for statement in &parsed.program.body {
            let Statement::TSGlobalDeclaration(global) = statement else {
                continue;
            };
            for inner in &global.body.body {
                let Some(declaration) = inner.as_declaration() else {
                    continue;
                };
                match declaration {
                    Declaration::VariableDeclaration(v) => {
                        for d in &v.declarations {
                            let name = d.id.get_identifier_name().unwrap().to_string();
                            let annotation = d.type_annotation.as_ref().expect("annotated");
                            members(&name, &annotation.type_annotation, &interfaces, &mut out);
                        }
                    }
                    Declaration::FunctionDeclaration(f) => {
                        out.insert(f.id.as_ref().unwrap().name.to_string());
                    }
                    Declaration::ClassDeclaration(c) => {
                        out.insert(c.id.as_ref().unwrap().name.to_string());
                    }
                    _ => {}
                }
            }
        }
        out
    }

    struct Silent;

    impl Bridge for Silent {
        fn call(&self, _: String, _: Value) -> oneshot::Receiver<HostResult> {
            let (tx, rx) = oneshot::channel();
            let _ = tx.send(HostResult::ok(Value::Null));
            rx
        }
        fn log(&self, _: &str, _: &str) {}
    }

    /// Dotted names of every function the prelude defines for scripts.
    fn implemented() -> BTreeSet<String> {
        let ts = r#"
export default async function (ctx: any) {
  const out: string[] = [];
  const walk = (prefix: string, value: any) => {
    for (const key of Object.getOwnPropertyNames(value)) {
      const v = value[key];
      if (typeof v === "function") out.push(prefix + "." + key);
      else if (v && typeof v === "object") walk(prefix + "." + key, v);
    }
  };
  const g = globalThis as any;
  for (const name of ["console", "slack", "http", "jira", "okta", "google", "secrets", "kv", "approvals"]) walk(name, g[name]);
  if (typeof g.sleep === "function") out.push("sleep");
  if (typeof g.waitFor === "function") out.push("waitFor");
  if (typeof g.RetryableError === "function") out.push("RetryableError");
  if (typeof ctx.conversation.update !== "function") throw new Error("no update");
  return out;
}
"#;
        let compiled = transpile(Path::new("walk.ts"), ts).unwrap();
        let request = RunRequest {
            js: compiled.js,
            context: json!({ "conversation": { "id": 1 } }).to_string(),
            limits: EngineLimits {
                recursion: 100,
                max_output_bytes: 100_000,
            },
        };
        match runtime::run(&request, Rc::new(Silent)) {
            ScriptOutcome::Returned { value } => serde_json::from_value(value).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_declarations_match_the_implementation() {
        let declared = declared();
        let implemented = implemented();
        assert!(declared.len() > 15, "{declared:?}");
        assert_eq!(
            declared, implemented,
            "switchboard.d.ts and the installed host API disagree"
        );
    }

    #[test]
    fn the_installed_api_calls_exactly_the_host_functions() {
        let called: BTreeSet<&str> = crate::script::sandbox::host_api::host_functions()
            .into_iter()
            .collect();
        let host: BTreeSet<&str> = HOST_FUNCTIONS.iter().copied().collect();
        assert_eq!(called, host);
    }

    #[test]
    fn writing_types_creates_a_tsconfig_once() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_types(dir.path()).unwrap();
        assert_eq!(written.len(), 2);
        std::fs::write(dir.path().join("tsconfig.json"), "{}").unwrap();
        let written = write_types(dir.path()).unwrap();
        assert_eq!(written.len(), 1, "an existing tsconfig.json is kept");
    }
}
