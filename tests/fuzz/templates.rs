//! Message templates: parsed, checked for every trigger kind, rendered, and checked
//! inside an automation file, where their errors must land inside the file.

use std::path::Path;

use switchboard::automations::{StoredScripts, compile};
use switchboard::rules::facts::FactContext;
use switchboard::template::{Template, TemplateError};
use switchboard::trigger::TriggerKind;

use crate::automations::located;
use crate::harness::{Target, Verdict, ensure};
use crate::mutate;

#[test]
fn templates() {
    let samples = [
        "Thanks {{requester}}, we're on it. This is ticket #{{id}}; react with :bangbang: if it is urgent.",
        "{{decided_by}} did not approve the password reset. {{decision_reason}} Reply here if you still need help.",
        "> {{text}}\n<{{permalink}}|Open the conversation> in {{channel}} ({{channel.id}})",
        "{{input.count}} × {{input.model}} for {{input.who}}",
        "by {{ actor }} for {{requester.id}}: {{tags}} {{emoji}} ünïcode ✓",
    ];
    let inputs = mutate::texts(samples.map(str::to_owned).to_vec(), &mutate::TEMPLATE);
    Target::new("templates").run(inputs, || {
        let (trigger, conversation) = crate::automations::contexts().remove(0);
        move |bytes: &[u8]| {
            let source = String::from_utf8_lossy(bytes);
            let (template, errors) = Template::parse_lenient(&source);
            ensure!(
                template.source() == source,
                "the template keeps another source"
            );
            ensure!(
                Template::parse(&source).is_ok() == errors.is_empty(),
                "parse and parse_lenient disagree"
            );
            point_inside(&errors, &source)?;
            for kind in TriggerKind::ALL {
                point_inside(&template.check_for(kind), &source)?;
                point_inside(&template.check_in(kind, true), &source)?;
            }
            point_inside(&template.check_inputs(&["who".into()]), &source)?;
            let rendered = template.render(&FactContext::new(&trigger, Some(&conversation)));
            if !source.contains("{{") {
                ensure!(
                    rendered == source,
                    "text without placeholders rendered as {rendered:?}"
                );
            }
            in_an_automation(&source)
        }
    });
}

/// That each error points at a character of the template.
fn point_inside(errors: &[TemplateError], source: &str) -> Verdict {
    for e in errors {
        ensure!(
            e.offset <= source.len() && source.is_char_boundary(e.offset),
            "the error {e:?} points outside the template, or inside a character"
        );
        ensure!(
            !e.message.is_empty(),
            "an error without a message at {}",
            e.offset
        );
    }
    Ok(())
}

/// The template as a reply's text, written as TOML writes strings and as a literal
/// multi-line string: the file's errors point inside it.
fn in_an_automation(template: &str) -> Verdict {
    let header = "[trigger]\ntype = \"conversation_created\"\n\n[[actions]]\ntype = \"reply\"\n";
    let basic = toml::to_string(&toml::Table::from_iter([(
        "text".to_owned(),
        toml::Value::String(template.to_owned()),
    )]))
    .map_err(|e| format!("TOML cannot write {template:?}: {e}"))?;
    let mut files = vec![format!("{header}{basic}")];
    if !template.contains("'''") {
        files.push(format!("{header}text = '''\n{template}'''\n"));
    }
    let file = Path::new("templated.toml");
    for source in files {
        if let Err(diagnostics) = compile(file, &source, &StoredScripts::default()) {
            located(&diagnostics, file, &source)?;
        }
    }
    Ok(())
}
