//! Commands typed to the bot in a message (`@switchboard run laptop who=<@U…>`,
//! `@switchboard assign me`): recognised, split into words, read as an edit of the
//! conversation or as a manual run's inputs, and checked against declared inputs.

use switchboard::conversations::edit;
use switchboard::manual::{inputs, message};
use switchboard::trigger::{Activity, Message};

use crate::harness::{Target, ensure};
use crate::mutate;
use crate::slack::manual_inputs;

const BOT: &str = "U0BOT";

#[test]
fn message_commands() {
    let samples = [
        "<@U0BOT> run laptop who=<@U0AGENT001> model=pro count=2 note=\"needs a dock\"",
        "<@U0BOT|switchboard> run laptop who=<@U0AGENT001|dana> when=2026-12-01 where=<#C0IT000001|it>",
        "  <@U0BOT> resolve",
        "<@U0BOT> assign <@U0AGENT001>",
        "<@U0BOT> assign me",
        "<@U0BOT> tag billing vip “very important”",
        "<@U0BOT> untag vip",
        "<@U0BOT> priority HIGH",
        "<@U0BOT> status pending",
        "<@U0BOT> type incident",
        "<@U0BOT> unassign",
        "<@U0BOT> run triage",
    ];
    let inputs = mutate::texts(samples.map(str::to_owned).to_vec(), &mutate::COMMAND);
    Target::new("message_commands").run(inputs, || {
        let declared = manual_inputs();
        move |bytes: &[u8]| {
            let activity = Activity::Message {
                message: Message {
                    channel: "C0SUPPORT1".into(),
                    ts: "1355517600.000007".into(),
                    thread_ts: Some("1355517523.000005".into()),
                    user: "U0AGENT001".into(),
                    text: String::from_utf8_lossy(bytes).into_owned(),
                },
                channel_type: Some("channel".into()),
            };
            let Some(command) = message::recognise(&activity, BOT) else {
                return Ok(());
            };
            ensure!(
                message::may_be_command(&activity),
                "the cheap test misses {:?}",
                command.text
            );
            match command.edit() {
                Some(Ok(patch)) => ensure!(
                    !edit::describe(&patch).is_empty(),
                    "an edit described as nothing"
                ),
                Some(Err(why)) => ensure!(!why.is_empty(), "an edit refused without a reason"),
                None => {}
            }
            let words = message::words(&command.text);
            ensure!(
                words.iter().all(|w| !w.contains(['"', '“', '”'])),
                "a quote was left in a word: {words:?}"
            );
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let ["run", _, given @ ..] = words.as_slice() else {
                return Ok(());
            };
            match message::inputs(given) {
                Err(why) => ensure!(
                    given.iter().any(|w| !w.contains('=') && why.contains(w)),
                    "the refusal does not name the word that is not an input: {why}"
                ),
                Ok(given) => match inputs::validate(&declared, &given) {
                    Ok(checked) => {
                        let count = &checked["count"];
                        ensure!(
                            count.as_f64().is_some_and(|n| (1.0..=3.0).contains(&n)),
                            "count {count} passed its range check"
                        );
                    }
                    Err(problems) => ensure!(
                        problems.values().all(|p| !p.is_empty()),
                        "inputs refused without a reason: {problems:?}"
                    ),
                },
            }
            Ok(())
        }
    });
}
