//! Event templates in the gxdev format: one JSON file per event in `socket-events/`,
//! `{event, channel, data}`, with channels shaped `private.{Model}.{identifier}`.
//!
//! Front-end developers keep these next to their code and edit them while they work,
//! so a folder is read afresh on every use, and one malformed file is reported by
//! name, line and column while the others still load. The seed's examples are built
//! into the binary for when no folder is given.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use sockscope_protocol::{Template, TemplateProblem, TemplateSet};

use crate::{Error, Result};

/// The templates shipped with Sockscope (the seed's examples).
const SHIPPED: &[(&str, &str)] = &[
    (
        "AiSessionMessageCreated.json",
        include_str!("../../../socket-events/AiSessionMessageCreated.json"),
    ),
    (
        "AttendeeCheckedIn.json",
        include_str!("../../../socket-events/AttendeeCheckedIn.json"),
    ),
    (
        "SocialStreamPostCreated.json",
        include_str!("../../../socket-events/SocialStreamPostCreated.json"),
    ),
    (
        "SocialStreamPostVariantCompleted.json",
        include_str!("../../../socket-events/SocialStreamPostVariantCompleted.json"),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    event: String,
    channel: String,
    #[serde(default)]
    data: Value,
}

/// Parses one template file's text; `name` is used in problems.
pub fn parse(name: &str, text: &str) -> std::result::Result<Template, TemplateProblem> {
    let problem = |e: serde_json::Error| TemplateProblem {
        file: name.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let f: File = serde_json::from_str(text).map_err(problem)?;
    if f.event.trim().is_empty() {
        return Err(TemplateProblem {
            file: name.to_owned(),
            line: 1,
            column: 1,
            message: "\"event\" is empty".to_owned(),
        });
    }
    Ok(Template {
        event: f.event,
        channel: f.channel,
        data: f.data,
        file: name.to_owned(),
    })
}

/// The shipped templates.
pub fn shipped() -> TemplateSet {
    collect(
        SHIPPED
            .iter()
            .map(|(name, text)| (format!("built-in:{name}"), Ok((*text).to_owned()))),
    )
}

/// Every `*.json` directly in `dir`, sorted by event name. An unreadable folder is an
/// error; an unreadable or malformed file is a problem in the set.
pub fn load_dir(dir: &Path) -> Result<TemplateSet> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Templates {
        dir: dir.display().to_string(),
        source,
    })?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    Ok(collect(files.into_iter().map(|p| {
        let text = std::fs::read_to_string(&p);
        (p.display().to_string(), text)
    })))
}

/// The templates for `dir`, or the shipped ones when no folder is set.
pub fn load(dir: Option<&str>) -> Result<TemplateSet> {
    match dir {
        Some(d) => load_dir(Path::new(d)),
        None => Ok(shipped()),
    }
}

fn collect(files: impl Iterator<Item = (String, std::io::Result<String>)>) -> TemplateSet {
    let mut set = TemplateSet::default();
    for (name, text) in files {
        match text {
            Ok(text) => match parse(&name, &text) {
                Ok(t) => set.templates.push(t),
                Err(p) => {
                    tracing::warn!(file = %p.file, line = p.line, column = p.column, problem = %p.message, "template skipped");
                    set.problems.push(p);
                }
            },
            Err(e) => set.problems.push(TemplateProblem {
                file: name,
                line: 0,
                column: 0,
                message: e.to_string(),
            }),
        }
    }
    set.templates.sort_by(|a, b| a.event.cmp(&b.event));
    set
}

/// The channel with its last `.` segment replaced by `identifier`, as
/// `gxdev socket send --identifier` does: `private.CheckIn.checkin_kiosk_lobby` with
/// `kiosk_2` becomes `private.CheckIn.kiosk_2`.
pub fn with_identifier(channel: &str, identifier: &str) -> String {
    match channel.rsplit_once('.') {
        Some((head, _)) => format!("{head}.{identifier}"),
        None => identifier.to_owned(),
    }
}

/// The template for `event`, or an error that lists the known events.
pub fn find<'a>(set: &'a TemplateSet, event: &str) -> Result<&'a Template> {
    set.templates
        .iter()
        .find(|t| t.event == event)
        .ok_or_else(|| Error::UnknownTemplate {
            event: event.to_owned(),
            known: set
                .templates
                .iter()
                .map(|t| t.event.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_all_parse() {
        let set = shipped();
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert_eq!(set.templates.len(), SHIPPED.len());
        let t = find(&set, "AttendeeCheckedIn").unwrap();
        assert_eq!(t.channel, "private.CheckIn.checkin_kiosk_lobby");
        assert_eq!(t.data["badge_number"], "A-0042");
    }

    #[test]
    fn identifier_replaces_the_last_channel_segment() {
        assert_eq!(
            with_identifier("private.CheckIn.checkin_kiosk_lobby", "kiosk_2"),
            "private.CheckIn.kiosk_2"
        );
        assert_eq!(with_identifier("flat", "x"), "x");
    }

    #[test]
    fn a_malformed_file_is_reported_by_name_and_line_and_the_rest_load() {
        let dir = sockscope_test_support::temp_dir("templates", "malformed");
        std::fs::write(
            dir.join("Good.json"),
            r#"{"event":"Good","channel":"private.A.b","data":{}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("Bad.json"),
            "{\n  \"event\": \"Bad\",\n  \"channel\": oops\n}",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let set = load_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(set.templates.len(), 1);
        assert_eq!(set.templates[0].event, "Good");
        assert_eq!(set.problems.len(), 1);
        let p = &set.problems[0];
        assert!(p.file.ends_with("Bad.json"), "{p:?}");
        assert_eq!(p.line, 3);
        assert!(matches!(
            find(&set, "Nope"),
            Err(Error::UnknownTemplate { .. })
        ));
        assert!(load_dir(Path::new("/no/such/dir")).is_err());
    }
}
