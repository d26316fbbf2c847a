//! What the transpiler refuses before oxc reads it, and the stack oxc runs on: oxc
//! recurses once per level of nesting, and a stack overflow aborts the whole server.

use std::sync::Mutex;

use super::TsError;

/// Longest script accepted. Scripts import nothing, so this is all hand-written code;
/// with [`MAX_NESTING`] it bounds how deep oxc recurses (see [`on_parser_stack`]).
const MAX_SCRIPT_BYTES: usize = 256 * 1024;

/// Deepest nesting of brackets accepted: far beyond what people write, and shallow
/// enough that oxc stays fast (its time grows faster than the nesting of blocks).
const MAX_NESTING: usize = 1000;

/// Stack of the thread oxc runs on. Its parser and passes recurse once per level of
/// an expression (`!!!…x`, `a = b = …`, `1 + 1 + …`), which a script of
/// [`MAX_SCRIPT_BYTES`] can make over 250,000 deep; the default 2 MiB of a runtime
/// worker overflows near 5,000. Only the pages used are committed.
const PARSER_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Why `source` is not parsed at all: too long, or brackets nested too deep.
pub(super) fn too_large_or_deep(source: &str) -> Option<TsError> {
    if source.len() > MAX_SCRIPT_BYTES {
        return Some(TsError {
            offset: 0,
            message: format!(
                "the script is {} KiB; scripts may be at most {} KiB",
                source.len().div_ceil(1024),
                MAX_SCRIPT_BYTES / 1024
            ),
        });
    }
    let mut depth = 0usize;
    for (offset, byte) in source.bytes().enumerate() {
        match byte {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => continue,
        }
        if depth > MAX_NESTING {
            return Some(TsError {
                offset,
                message: format!("brackets are nested more than {MAX_NESTING} deep here"),
            });
        }
    }
    None
}

/// Runs `f` on a thread with [`PARSER_STACK_BYTES`] of stack (or here, if no thread
/// can be started).
pub(super) fn on_parser_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let f = Mutex::new(Some(f));
    let take = || f.lock().unwrap_or_else(|e| e.into_inner()).take();
    let ran = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("transpile".into())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, || take().map(|f| f()))
            .ok()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
    });
    match ran.flatten() {
        Some(result) => result,
        None => (take().expect("not run yet"))(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_or_deeply_nested_scripts_are_refused_and_deep_expressions_fit() {
        let deep = format!("{}1{}", "(".repeat(1001), ")".repeat(1001));
        assert!(too_large_or_deep(&deep).is_some_and(|e| e.offset == 1000));
        assert!(too_large_or_deep(&"a".repeat(MAX_SCRIPT_BYTES + 1)).is_some());
        // Within the limits, the deepest expression still fits the parser's stack.
        let nots = format!(
            "export default async function () {{ const x = 1; return {}x; }}",
            "!".repeat(200_000)
        );
        assert!(too_large_or_deep(&nots).is_none());
        assert!(super::super::transpile(std::path::Path::new("t.ts"), &nots).is_ok());
    }
}
