//! What the live stream (`/api/live`, Server-Sent Events) carries, shared by the server
//! that sends it and the browser that applies it. A job change carries the whole job; any
//! other change only says which kind of object changed in the project, and the page
//! refetches what it shows of that kind.

use serde::{Deserialize, Serialize};

use super::release::jobs::JobView;

/// Kinds of objects whose changes are announced without content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Touched {
    /// Deployments (workloads, versions).
    Workloads,
    Pods,
    Events,
    /// VirtualServices and DestinationRules.
    Routing,
}

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LiveMessage {
    /// The stream is open (the page may stop polling).
    Hello,
    /// A release job as it is now (created or changed, spec or status).
    Job(Box<JobView>),
    /// A release job was deleted (it went offline or was removed).
    JobGone(String),
    Touched(Touched),
    /// The stream fell behind: refetch everything shown.
    Resync,
    /// The server ends the stream; connect again (sign-in is checked anew).
    Reconnect,
}

impl LiveMessage {
    /// The SSE `event:` name, so the browser can listen per kind.
    pub fn event_name(&self) -> &'static str {
        match self {
            LiveMessage::Hello => "hello",
            LiveMessage::Job(_) => "job",
            LiveMessage::JobGone(_) => "job-gone",
            LiveMessage::Touched(_) => "touched",
            LiveMessage::Resync => "resync",
            LiveMessage::Reconnect => "reconnect",
        }
    }

    /// Every event name the stream uses.
    pub const EVENT_NAMES: [&'static str; 6] =
        ["hello", "job", "job-gone", "touched", "resync", "reconnect"];

    /// Reads one message from an SSE `data:` field.
    pub fn parse(data: &str) -> Result<LiveMessage, String> {
        serde_json::from_str(data).map_err(|e| format!("a live message Sluice cannot read: {e}"))
    }
}

/// How long to wait before reconnecting after `failures` failed attempts in a row:
/// 1 s, 2 s, 4 s … up to 30 s.
pub fn backoff_ms(failures: u32) -> u32 {
    1000u32.saturating_mul(1u32 << failures.min(5)).min(30_000)
}

/// The stream's address for a project.
pub fn stream_url(project: &str) -> String {
    format!(
        "/api/live?project={}",
        super::links::encode_query_value(project)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_name_their_event() {
        for m in [
            LiveMessage::Hello,
            LiveMessage::JobGone("canary".into()),
            LiveMessage::Touched(Touched::Pods),
            LiveMessage::Resync,
            LiveMessage::Reconnect,
        ] {
            let text = serde_json::to_string(&m).unwrap();
            assert_eq!(LiveMessage::parse(&text).unwrap(), m);
            assert!(LiveMessage::EVENT_NAMES.contains(&m.event_name()));
        }
        assert!(LiveMessage::parse("{").unwrap_err().contains("cannot read"));
    }

    #[test]
    fn reconnects_back_off_to_half_a_minute() {
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(1), 2000);
        assert_eq!(backoff_ms(4), 16_000);
        assert_eq!(backoff_ms(5), 30_000);
        assert_eq!(backoff_ms(40), 30_000);
    }

    #[test]
    fn the_stream_url_escapes_the_project() {
        assert_eq!(stream_url("demo-project"), "/api/live?project=demo-project");
    }
}
