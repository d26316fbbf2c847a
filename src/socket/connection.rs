use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::inbox::SlackInbox;
use crate::slack::socket::{self, Disconnect, Inbound};

/// Longest wait for the WebSocket handshake and Slack's `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// After Slack asked for a refresh, how long the old connection may still serve.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// On shutdown, how long envelopes in flight may take to be acknowledged.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pings without any frame from Slack after which the connection counts as dead.
const DEAD_AFTER_PINGS: u32 = 3;

/// Why a connection ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// switchboard is shutting down.
    Stopped,
    /// Slack turned Socket Mode off for the app.
    Disabled,
    /// The connection failed or was closed.
    Dropped(String),
}

/// Serves one WebSocket until it ends. Frames are read in a loop that does nothing
/// slow: each envelope is handled in its own task (so several are in flight at once
/// and the ingest's group commit batches them), and acknowledgements come back
/// through a channel; pings and pongs never wait for the database. `refresh` fires
/// when Slack asks for the connection to be replaced.
pub(super) async fn run(
    slot: usize,
    url: String,
    inbox: SlackInbox,
    ping_interval: Duration,
    refresh: oneshot::Sender<()>,
    stop: CancellationToken,
) -> Ended {
    let (ws, _) = match tokio::time::timeout(
        HELLO_TIMEOUT,
        // Acks are small frames that must leave at once, not wait for Nagle's timer.
        tokio_tungstenite::connect_async_with_config(url.as_str(), None, true),
    )
    .await
    {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) => return Ended::Dropped(format!("WebSocket handshake failed: {e}")),
        Err(_) => return Ended::Dropped("WebSocket handshake timed out".into()),
    };
    let (mut sink, mut frames) = ws.split();
    let (acks, mut to_send) = mpsc::unbounded_channel::<String>();
    let mut in_flight = JoinSet::new();
    let mut refresh = Some(refresh);
    let mut drain_until: Option<Instant> = None;
    let mut greeted = false;
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
    let hello_deadline = Instant::now() + HELLO_TIMEOUT;

    let ended = loop {
        tokio::select! {
            () = stop.cancelled() => break Ended::Stopped,
            Some(ack) = to_send.recv() => {
                if let Err(e) = sink.send(Message::text(ack)).await {
                    break Ended::Dropped(format!("could not send an acknowledgement: {e}"));
                }
            }
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = ping.tick() => {
                if !greeted && Instant::now() > hello_deadline {
                    break Ended::Dropped("Slack sent no hello".into());
                }
                if drain_until.is_some_and(|until| Instant::now() > until) {
                    break Ended::Dropped("refreshed connection kept open too long".into());
                }
                if last_heard.elapsed() > ping_interval * DEAD_AFTER_PINGS {
                    break Ended::Dropped(format!(
                        "nothing heard from Slack for {} ms",
                        last_heard.elapsed().as_millis()
                    ));
                }
                if let Err(e) = sink.send(Message::Ping(Default::default())).await {
                    break Ended::Dropped(format!("could not send a ping: {e}"));
                }
            }
            frame = frames.next() => {
                last_heard = Instant::now();
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(close))) => {
                        break Ended::Dropped(match close {
                            Some(c) => format!("closed by Slack ({} {})", c.code, c.reason),
                            None => "closed by Slack".into(),
                        });
                    }
                    // Pings are answered by the WebSocket layer as frames are read.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break Ended::Dropped(format!("WebSocket error: {e}")),
                    None => break Ended::Dropped("connection closed".into()),
                };
                match socket::decode(&text) {
                    Ok(Inbound::Hello { connections }) => {
                        greeted = true;
                        tracing::info!(slot, connections, "Socket Mode connection ready");
                    }
                    Ok(Inbound::Disconnect(Disconnect::Refresh)) => {
                        tracing::info!(slot, "Slack asked for a fresh Socket Mode connection; opening one beside this");
                        if let Some(refresh) = refresh.take() {
                            let _ = refresh.send(());
                        }
                        drain_until.get_or_insert(Instant::now() + DRAIN_LIMIT);
                    }
                    Ok(Inbound::Disconnect(Disconnect::Disabled)) => break Ended::Disabled,
                    Ok(Inbound::Disconnect(Disconnect::Other(reason))) => {
                        break Ended::Dropped(format!("Slack disconnected ({reason})"));
                    }
                    Ok(Inbound::Envelope(envelope)) => {
                        let (inbox, acks) = (inbox.clone(), acks.clone());
                        in_flight.spawn(async move {
                            if let Some(ack) = super::envelope::handle(&inbox, envelope).await {
                                let _ = acks.send(ack);
                            }
                        });
                    }
                    Ok(Inbound::Unknown { kind }) => {
                        tracing::debug!(slot, kind, "ignored a Socket Mode message of unknown type");
                    }
                    Err(e) => tracing::warn!(slot, error = %e, "ignored a Socket Mode frame"),
                }
            }
        }
    };
    // On shutdown, envelopes in flight are acknowledged when they are recorded; over a
    // lost connection they cannot be, and Slack delivers them again.
    drop(acks);
    in_flight.detach_all();
    let grace = match ended {
        Ended::Stopped => SHUTDOWN_GRACE,
        _ => Duration::ZERO,
    };
    let _ = tokio::time::timeout(grace, async {
        while let Some(ack) = to_send.recv().await {
            if sink.send(Message::text(ack)).await.is_err() {
                return;
            }
        }
    })
    .await;
    let _ = sink.send(Message::Close(None)).await;
    ended
}
