//! TypeScript → JavaScript, in Rust, with oxc: parse, strip types (annotations,
//! interfaces, type aliases, `as`/`satisfies`, generics, `import type`, enums and
//! namespaces become plain JavaScript), keep modern syntax (async/await, optional
//! chaining) for Boa. Errors point at the TypeScript source; a line map turns positions
//! in the generated JavaScript back into TypeScript lines. Results are cached by
//! content hash.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use oxc::allocator::Allocator;
use oxc::ast::ast::{ExportDefaultDeclarationKind, Statement};
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};
use sha2::{Digest, Sha256};

mod limits;
mod lines;

use limits::{on_parser_stack, too_large_or_deep};
use lines::SourceLines;

/// The global the entry point is assigned to in the generated script.
pub const ENTRY: &str = "__switchboard_entry";

/// A transpiled script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// JavaScript: a classic script (not a module) whose `export default` has become
    /// `var __switchboard_entry = …`. Boa leaks a module's memory once its namespace is
    /// read, so the sandbox runs scripts, not modules.
    pub js: String,
    /// For each line of `js` (0-based index), the 1-based TypeScript line it came from.
    pub line_map: Vec<u32>,
}

impl Compiled {
    /// The TypeScript line of a 1-based JavaScript line.
    pub fn ts_line(&self, js_line: u32) -> Option<u32> {
        let index = js_line.checked_sub(1)? as usize;
        self.line_map.get(index).copied().filter(|l| *l > 0)
    }
}

/// A problem in a TypeScript file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsError {
    /// Byte offset in the source.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Transpiles `source` (the contents of `path`, for messages).
pub fn transpile(path: &Path, source: &str) -> Result<Compiled, Vec<TsError>> {
    if let Some(refusal) = too_large_or_deep(source) {
        return Err(vec![refusal]);
    }
    // Whatever a user writes must end in a result, never in a panic of the transpiler.
    on_parser_stack(|| {
        std::panic::catch_unwind(|| transpile_unguarded(path, source)).unwrap_or_else(|_| {
            Err(vec![TsError {
                offset: 0,
                message:
                    "the TypeScript transpiler failed on this file (please report it with the file)"
                        .into(),
            }])
        })
    })
}

fn transpile_unguarded(path: &Path, source: &str) -> Result<Compiled, Vec<TsError>> {
    let allocator = Allocator::default();
    let source_type = SourceType::ts().with_module(true);
    let parsed = Parser::new(&allocator, source, source_type).parse();
    let mut errors = diagnostics(parsed.diagnostics.errors());
    if parsed.panicked || !errors.is_empty() {
        return Err(errors);
    }
    let mut program = parsed.program;
    let semantic = SemanticBuilder::new()
        .with_check_syntax_error(true)
        .with_enum_eval(true)
        .build(&program);
    errors.extend(diagnostics(semantic.diagnostics.errors()));
    if !errors.is_empty() {
        return Err(errors);
    }
    errors.extend(shape_errors(&program.body));
    if !errors.is_empty() {
        return Err(errors);
    }
    let scoping = semantic.semantic.into_scoping();
    let transformed = Transformer::new(&allocator, path, &TransformOptions::default())
        .build_with_scoping(scoping, &mut program);
    errors.extend(diagnostics(transformed.diagnostics.errors()));
    if !errors.is_empty() {
        return Err(errors);
    }
    errors.extend(leftover_exports(&program.body));
    if !errors.is_empty() {
        return Err(errors);
    }
    let entry_offset = program
        .body
        .iter()
        .find_map(|s| match s {
            Statement::ExportDefaultDeclaration(d) => Some(d.span.start as usize),
            _ => None,
        })
        .unwrap_or(0);
    let generated = Codegen::new()
        .with_options(CodegenOptions {
            source_map_path: Some(path.to_path_buf()),
            ..CodegenOptions::default()
        })
        .build(&program);
    let source_lines = SourceLines::new(source);
    let line_count = generated.code.lines().count();
    let mut line_map = vec![0u32; line_count + 1];
    if let Some(map) = &generated.map {
        for token in map.get_tokens() {
            let dst = token.get_dst_line() as usize;
            if dst < line_map.len() && line_map[dst] == 0 {
                line_map[dst] = source_lines.editor_line(token.get_src_line()) + 1;
            }
        }
    }
    // Lines without a token (closing braces) belong to the line before.
    for i in 1..line_map.len() {
        if line_map[i] == 0 {
            line_map[i] = line_map[i - 1];
        }
    }
    let entry_line = generated.map.as_ref().and_then(|map| {
        let (line, column) = source_lines.position(entry_offset);
        map.get_tokens()
            .find(|t| t.get_src_line() == line && t.get_src_col() == column)
            .map(|t| t.get_dst_line() as usize)
    });
    let js = entry_as_global(&generated.code, entry_line).ok_or_else(|| {
        vec![TsError {
            offset: entry_offset,
            message:
                "could not prepare the default export as the entry point (please report this file)"
                    .into(),
        }]
    })?;
    let compiled = Compiled { js, line_map };
    let errors = script_errors(&compiled, source);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(compiled)
}

/// What a module may hold but the classic script the sandbox runs may not (an `import`
/// inside a block, a top-level `await`), found by reading the output as a script and
/// pointed at the TypeScript line it came from.
fn script_errors(compiled: &Compiled, source: &str) -> Vec<TsError> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, &compiled.js, SourceType::script()).parse();
    parsed
        .diagnostics
        .errors()
        .map(|d| {
            let js_offset = d.labels.first().map_or(0, |label| label.offset() as usize);
            let before = compiled.js.get(..js_offset).unwrap_or(&compiled.js);
            let js_line = before.matches('\n').count() as u32 + 1;
            let ts_line = compiled.ts_line(js_line).unwrap_or(1) as usize;
            let offset = source
                .split_inclusive('\n')
                .take(ts_line - 1)
                .map(str::len)
                .sum();
            TsError {
                offset,
                message: format!("{} (scripts run as plain scripts, not modules)", d.message),
            }
        })
        .collect()
}

/// Turns the generated `export default …` (on `line`, or the only line starting with
/// it) into `var __switchboard_entry = …`.
fn entry_as_global(js: &str, line: Option<usize>) -> Option<String> {
    const EXPORT: &str = "export default ";
    let lines: Vec<&str> = js.split_inclusive('\n').collect();
    let index = match line {
        Some(l) if lines.get(l).is_some_and(|text| text.starts_with(EXPORT)) => l,
        _ => {
            let mut candidates = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.starts_with(EXPORT));
            let (first, _) = candidates.next()?;
            if candidates.next().is_some() {
                return None;
            }
            first
        }
    };
    let mut out = String::with_capacity(js.len() + 16);
    for (i, text) in lines.iter().enumerate() {
        if i == index {
            out.push_str("var ");
            out.push_str(ENTRY);
            out.push_str(" = ");
            out.push_str(&text[EXPORT.len()..]);
        } else {
            out.push_str(text);
        }
    }
    Some(out)
}

/// Named exports that survive type stripping have nothing to export to.
fn leftover_exports(body: &[Statement<'_>]) -> Vec<TsError> {
    body.iter()
        .filter_map(|s| match s {
            Statement::ExportNamedDeclaration(e) => Some(e.span.start),
            Statement::ExportDeclaration(e) => Some(e.span.start),
            _ => None,
        })
        .map(|start| TsError {
            offset: start as usize,
            message:
                "only the default export is used: remove `export` here (types may stay exported)"
                    .into(),
        })
        .collect()
}

fn diagnostics<'a>(
    list: impl Iterator<Item = &'a oxc::diagnostics::OxcDiagnostic>,
) -> Vec<TsError> {
    list.map(|d| {
        let offset = d.labels.first().map_or(0, |label| label.offset() as usize);
        let mut message = d.message.to_string();
        if let Some(help) = &d.help {
            message.push_str(&format!(" ({help})"));
        }
        TsError { offset, message }
    })
    .collect()
}

/// The script must be one file with a default export, and import nothing but types.
fn shape_errors(body: &[Statement<'_>]) -> Vec<TsError> {
    let mut errors = Vec::new();
    let mut has_default = false;
    for statement in body {
        match statement {
            Statement::ImportDeclaration(import) if import.import_kind.is_value() => {
                errors.push(TsError {
                    offset: import.span.start as usize,
                    message: format!(
                        "imports are not available in scripts (`{}`): everything a script can use is in the host API (switchboard.d.ts); import types with `import type`",
                        import.source.value
                    ),
                })
            }
            Statement::ExportAllDeclaration(export) => errors.push(TsError {
                offset: export.span.start as usize,
                message: "re-exports are not available in scripts".into(),
            }),
            Statement::ExportFromDeclaration(export) => {
                errors.push(TsError {
                    offset: export.span.start as usize,
                    message: "re-exports are not available in scripts".into(),
                })
            }
            Statement::ExportDefaultDeclaration(export) => {
                has_default = true;
                let is_function = matches!(
                    export.declaration,
                    ExportDefaultDeclarationKind::FunctionDeclaration(_)
                        | ExportDefaultDeclarationKind::ArrowFunctionExpression(_)
                        | ExportDefaultDeclarationKind::FunctionExpression(_)
                        | ExportDefaultDeclarationKind::Identifier(_)
                );
                if !is_function {
                    errors.push(TsError {
                        offset: export.span.start as usize,
                        message: "the default export must be the script's function: `export default async function (ctx) { … }`".into(),
                    });
                }
            }
            _ => {}
        }
    }
    if !has_default {
        errors.push(TsError {
            offset: 0,
            message: "the script has no entry point: add `export default async function (ctx: Context) { … }`".into(),
        });
    }
    errors
}

/// The secrets a script reads by literal name (`secrets.get("NAME")`), with the byte
/// offset of each name, so `check` can compare them with the automation's declaration.
/// Names computed at run time are checked when the script runs.
pub fn secret_reads(source: &str) -> Vec<(usize, String)> {
    use oxc::ast::ast::{Argument, CallExpression, Expression};
    use oxc::ast_visit::{Visit, walk};

    struct Reads(Vec<(usize, String)>);

    impl<'a> Visit<'a> for Reads {
        fn visit_call_expression(&mut self, call: &CallExpression<'a>) {
            if call.callee.is_specific_member_access("secrets", "get") {
                match call.arguments.first() {
                    Some(Argument::StringLiteral(name)) => {
                        self.0
                            .push((name.span.start as usize + 1, name.value.to_string()));
                    }
                    Some(Argument::TemplateLiteral(t)) if t.expressions.is_empty() => {
                        if let Some(quasi) = t.quasis.first() {
                            let text = quasi
                                .value
                                .cooked
                                .as_ref()
                                .map_or_else(|| quasi.value.raw.to_string(), |c| c.to_string());
                            self.0.push((t.span.start as usize + 1, text));
                        }
                    }
                    _ => {}
                }
            }
            walk::walk_call_expression(self, call);
        }

        fn visit_expression(&mut self, expression: &Expression<'a>) {
            walk::walk_expression(self, expression);
        }
    }

    if too_large_or_deep(source).is_some() {
        return Vec::new();
    }
    on_parser_stack(|| {
        let allocator = Allocator::default();
        let parsed = Parser::new(&allocator, source, SourceType::ts().with_module(true)).parse();
        let mut reads = Reads(Vec::new());
        reads.visit_program(&parsed.program);
        reads.0
    })
}

/// Transpiled scripts by content hash.
#[derive(Debug, Default)]
pub struct TranspileCache {
    entries: Mutex<HashMap<[u8; 32], Arc<Compiled>>>,
}

impl TranspileCache {
    /// The transpiled `source`, from the cache when this content was seen before.
    pub fn get(&self, path: &Path, source: &str) -> Result<Arc<Compiled>, Vec<TsError>> {
        let key: [u8; 32] = Sha256::digest(source.as_bytes()).into();
        if let Some(hit) = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(hit.clone());
        }
        let compiled = Arc::new(transpile(path, source)?);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, compiled.clone());
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(source: &str) -> String {
        match transpile(Path::new("t.ts"), source) {
            Ok(c) => c.js,
            Err(e) => panic!("{source}\n→ {e:?}"),
        }
    }

    const ENTRY: &str = "\nexport default async function (ctx: any) { return 1; }\n";

    #[test]
    fn typescript_constructs_become_javascript() {
        // (TypeScript, what the output must contain, what it must not)
        let cases: &[(&str, &str, &str)] = &[
            ("let n: number = 1;", "let n = 1", ": number"),
            (
                "interface P { a: string }\nconst p = {a: 'x'};",
                "const p",
                "interface",
            ),
            (
                "type Id = string;\nconst i: Id = 'x';",
                "const i = \"x\"",
                "type Id",
            ),
            ("const v = (1 as unknown) as number;", "const v = 1", " as "),
            (
                "const s = { a: 1 } satisfies Record<string, number>;",
                "const s = { a: 1 }",
                "satisfies",
            ),
            (
                "function id<T>(x: T): T { return x; }",
                "function id(x)",
                "<T>",
            ),
            (
                "import type { Context } from './switchboard';\nconst c = 1;",
                "const c = 1",
                "import",
            ),
            (
                "enum Color { Red, Green = 5 }\nconst c = Color.Green;",
                "Color[Color[\"Green\"] = 5] = \"Green\"",
                "enum",
            ),
            ("const x = ({} as any)?.a?.b ?? 2;", "?.a?.b ?? 2", " as "),
            (
                "async function f() { await Promise.resolve(1); }",
                "async function f()",
                "yield",
            ),
            (
                "class A { constructor(private x: number) {} }",
                "this.x = x",
                "private",
            ),
            (
                "namespace N { export const a = 1; }",
                "N.a = 1",
                "namespace",
            ),
            (
                "let f = (a?: string, ...r: number[]): void => {};",
                "let f = (a, ...r) =>",
                "void",
            ),
            (
                "declare const g: number;\nconst h = 1;",
                "const h = 1",
                "declare",
            ),
            ("const n = <number>(<unknown>1);", "const n = 1", "<number>"),
            (
                "abstract class B { abstract m(): void; n() {} }",
                "class B",
                "abstract",
            ),
        ];
        for (ts, has, lacks) in cases {
            let out = js(&format!("{ts}{ENTRY}"));
            assert!(out.contains(has), "{ts}\nwant {has:?} in:\n{out}");
            assert!(
                !out.contains(lacks),
                "{ts}\ndid not want {lacks:?} in:\n{out}"
            );
        }
    }

    #[test]
    fn syntax_errors_point_into_the_typescript() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "export default async function (ctx) {\n  let x = ;\n}\n",
                48,
                "Unexpected token",
            ),
            (
                "export default async function (ctx) {\n  return 1\n",
                49,
                "Expected",
            ),
            (
                "import { a } from './b';\nexport default async function () {}\n",
                0,
                "imports are not available",
            ),
            ("export default 42;\n", 0, "must be the script's function"),
            ("const a = 1;\n", 0, "no entry point"),
            (
                "export default async function (ctx) { let a = 1; let a = 2; }\n",
                42,
                "has already been declared",
            ),
        ];
        for (ts, offset, message) in cases {
            let errors = transpile(Path::new("t.ts"), ts).unwrap_err();
            let first = &errors[0];
            assert!(first.message.contains(message), "{ts}\n→ {errors:?}");
            assert_eq!(first.offset, *offset, "{ts}\n→ {errors:?}");
        }
    }

    #[test]
    fn javascript_lines_map_back_to_typescript_lines() {
        let ts = "interface A { x: number }\n\ntype B = string;\n\nexport default async function (ctx: any) {\n  const a: number = 1;\n\n\n  throw new Error('line 9');\n}\n";
        let compiled = transpile(Path::new("t.ts"), ts).unwrap();
        let js_line = compiled
            .js
            .lines()
            .position(|l| l.contains("throw"))
            .unwrap() as u32
            + 1;
        assert_eq!(
            compiled.ts_line(js_line),
            Some(9),
            "{}\n{:?}",
            compiled.js,
            compiled.line_map
        );
    }

    #[test]
    fn the_default_export_becomes_the_entry_global() {
        let cases = [
            "export default async function (ctx: any) { return `\nexport default ${1}`; }\n",
            "async function main(ctx: any) { return 1; }\nexport default main;\n",
            "export default async (ctx: any) => 1;\n",
            "export type T = number;\nexport interface I { a: T }\nexport default function named(ctx: any) { return 1; }\n",
        ];
        for ts in cases {
            let js = js(ts);
            assert!(js.contains("var __switchboard_entry = "), "{ts}\n→ {js}");
            // Only the template literal's text may still say `export default`.
            let exports = js.lines().filter(|l| l.starts_with("export")).count();
            assert_eq!(exports, usize::from(ts.contains('`')), "{ts}\n→ {js}");
        }
        let errors = transpile(
            Path::new("t.ts"),
            "export const a = 1;\nexport default function () {}\n",
        )
        .unwrap_err();
        assert!(
            errors[0].message.contains("only the default export"),
            "{errors:?}"
        );
    }

    #[test]
    fn literal_secret_reads_are_found() {
        let ts = "export default async function () {\n  const a = await secrets.get(\"OKTA_API_TOKEN\");\n  const b = await secrets.get(`JIRA`);\n  const n = 'X';\n  const c = await secrets.get(n);\n  // secrets.get(\"IN_A_COMMENT\")\n}\n";
        let reads = secret_reads(ts);
        let names: Vec<&str> = reads.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["OKTA_API_TOKEN", "JIRA"]);
        assert_eq!(&ts[reads[0].0..reads[0].0 + 4], "OKTA");
    }

    #[test]
    fn the_cache_returns_the_same_result() {
        let cache = TranspileCache::default();
        let a = cache.get(Path::new("a.ts"), ENTRY).unwrap();
        let b = cache.get(Path::new("b.ts"), ENTRY).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}
