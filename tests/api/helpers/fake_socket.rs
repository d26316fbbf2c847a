//! A fake Slack Socket Mode server on 127.0.0.1: `apps.connections.open` (answered by
//! the fake Web API) hands out a `ws://` URL here; each connection gets `hello`, then
//! whatever envelopes and `disconnect` messages the test sends. Every acknowledgement
//! is recorded and checked against Slack's protocol: a JSON object with the
//! `envelope_id` of an envelope sent on that connection, and a `payload` only where
//! the envelope accepts one. Connections can be dropped abruptly or frozen (no frame
//! read or written, not even a pong).
//! <https://api.slack.com/apis/socket-mode>

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// The app-level token the fake accepts on `apps.connections.open`.
pub const APP_TOKEN: &str = "xapp-1-A0SWITCHB1-1-0123456789abcdef";

/// A recorded acknowledgement.
#[derive(Debug, Clone)]
pub struct Ack {
    pub connection: usize,
    pub envelope_id: String,
    pub payload: Option<Value>,
    /// From the envelope's sending to its acknowledgement's arrival.
    #[allow(dead_code)] // for the benchmarks, which include this file
    pub latency: Duration,
}

enum Command {
    /// Sends a frame; then, if asked, freezes (the frame is out, nothing comes back).
    Send(String, bool),
    /// Close after this long, as Slack does some seconds after `disconnect`.
    CloseAfter(Duration),
    Drop,
    Freeze,
}

#[derive(Default)]
struct State {
    next_connection: usize,
    next_envelope: usize,
    /// Connections that have been greeted and are still open.
    live: BTreeMap<usize, mpsc::UnboundedSender<Command>>,
    /// Envelopes sent: id → (connection, accepts_response_payload, when).
    sent: BTreeMap<String, (usize, bool, Instant)>,
    acks: Vec<Ack>,
    /// Where acknowledgements are also sent as they arrive (benchmarks follow them).
    watchers: Vec<mpsc::UnboundedSender<Ack>>,
    violations: Vec<String>,
    opened: usize,
}

#[derive(Clone)]
pub struct FakeSocket {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeSocket {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(server.clone().serve(tcp));
            }
        });
        fake
    }

    /// What `apps.connections.open` answers.
    pub fn url(&self) -> String {
        let n = {
            let mut state = self.state.lock().unwrap();
            state.opened += 1;
            state.opened
        };
        format!(
            "ws://{}/link/?ticket=fake-ticket-{n}&app_id=A0SWITCHB1",
            self.addr
        )
    }

    async fn serve(self, tcp: tokio::net::TcpStream) {
        let _ = tcp.set_nodelay(true);
        let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        let (mut sink, mut frames) = ws.split();
        let (tx, mut commands) = mpsc::unbounded_channel();
        let id = {
            let mut state = self.state.lock().unwrap();
            state.next_connection += 1;
            let id = state.next_connection;
            state.live.insert(id, tx);
            id
        };
        let connections = self.live().len();
        let hello = json!({
            "type": "hello", "num_connections": connections,
            "debug_info": { "host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060 },
            "connection_info": { "app_id": "A0SWITCHB1" }
        });
        if sink.send(Message::text(hello.to_string())).await.is_err() {
            self.state.lock().unwrap().live.remove(&id);
            return;
        }
        let mut close_at: Option<tokio::time::Instant> = None;
        loop {
            let closing = async {
                match close_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = closing => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
                command = commands.recv() => match command {
                    Some(Command::Send(text, freeze)) => {
                        if sink.send(Message::text(text)).await.is_err() {
                            break;
                        }
                        if freeze {
                            self.state.lock().unwrap().live.remove(&id);
                            tokio::time::sleep(Duration::from_secs(120)).await;
                            return;
                        }
                    }
                    Some(Command::CloseAfter(after)) => {
                        close_at = Some(tokio::time::Instant::now() + after);
                    }
                    Some(Command::Drop) | None => break,
                    Some(Command::Freeze) => {
                        self.state.lock().unwrap().live.remove(&id);
                        // Holds the socket without reading or writing until the peer goes.
                        tokio::time::sleep(Duration::from_secs(120)).await;
                        return;
                    }
                },
                frame = frames.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.record_ack(id, &text),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        self.state.lock().unwrap().live.remove(&id);
    }

    fn record_ack(&self, connection: usize, text: &str) {
        let mut state = self.state.lock().unwrap();
        let Ok(Value::Object(ack)) = serde_json::from_str::<Value>(text) else {
            state.violations.push(format!("not a JSON object: {text}"));
            return;
        };
        if let Some(key) = ack.keys().find(|k| *k != "envelope_id" && *k != "payload") {
            state
                .violations
                .push(format!("unexpected field {key:?} in {text}"));
        }
        let Some(envelope_id) = ack.get("envelope_id").and_then(Value::as_str) else {
            state
                .violations
                .push(format!("an ack without envelope_id: {text}"));
            return;
        };
        let sent = state.sent.get(envelope_id).copied();
        match sent {
            None => state
                .violations
                .push(format!("ack of an unknown envelope: {text}")),
            Some((sent_on, ..)) if sent_on != connection => state.violations.push(format!(
                "envelope {envelope_id} sent on connection {sent_on}, acked on {connection}"
            )),
            Some((_, false, _)) if ack.contains_key("payload") => state.violations.push(format!(
                "a payload for an envelope that accepts none: {text}"
            )),
            Some(_) => {}
        }
        let ack = Ack {
            connection,
            envelope_id: envelope_id.to_owned(),
            payload: ack.get("payload").cloned(),
            latency: sent.map_or(Duration::ZERO, |(.., at)| at.elapsed()),
        };
        state.watchers.retain(|w| w.send(ack.clone()).is_ok());
        state.acks.push(ack);
    }

    /// The open connections, oldest first.
    pub fn live(&self) -> Vec<usize> {
        self.state.lock().unwrap().live.keys().copied().collect()
    }

    /// How many connection URLs have been handed out.
    pub fn opened(&self) -> usize {
        self.state.lock().unwrap().opened
    }

    /// Waits until `n` connections are open; returns them.
    pub async fn wait_for_connections(&self, n: usize, within: Duration) -> Vec<usize> {
        self.wait_for_connections_since(0, n, within).await
    }

    /// Waits until `n` connections newer than `since` are open; returns them.
    pub async fn wait_for_connections_since(
        &self,
        since: usize,
        n: usize,
        within: Duration,
    ) -> Vec<usize> {
        let deadline = Instant::now() + within;
        loop {
            let live: Vec<usize> = self.live().into_iter().filter(|c| *c > since).collect();
            if live.len() >= n {
                return live;
            }
            assert!(
                Instant::now() < deadline,
                "waited {within:?} for {n} Socket Mode connection(s), have {live:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Hands `command` to `connection`; one that has closed meanwhile loses it, as a
    /// message Slack sends on a closing connection is lost (and not acknowledged).
    fn command(&self, connection: usize, command: Command) {
        if let Some(sender) = self.state.lock().unwrap().live.get(&connection) {
            let _ = sender.send(command);
        }
    }

    /// Sends an envelope of `kind` on `connection`; returns its id.
    pub fn send(
        &self,
        connection: usize,
        kind: &str,
        payload: &Value,
        retry_attempt: u32,
    ) -> String {
        self.send_then(connection, kind, payload, retry_attempt, false)
    }

    /// Sends an event on `connection` and freezes it at once: the envelope arrives,
    /// its acknowledgement never does.
    pub fn event_then_freeze(&self, connection: usize, callback: &Value) -> String {
        self.send_then(connection, "events_api", callback, 0, true)
    }

    fn send_then(
        &self,
        connection: usize,
        kind: &str,
        payload: &Value,
        retry_attempt: u32,
        freeze: bool,
    ) -> String {
        let accepts = kind != "events_api";
        let id = {
            let mut state = self.state.lock().unwrap();
            state.next_envelope += 1;
            let id = format!(
                "{:08x}-fake-4d0b-b6aa-{:012x}",
                state.next_envelope, connection
            );
            state
                .sent
                .insert(id.clone(), (connection, accepts, Instant::now()));
            id
        };
        let envelope = json!({
            "envelope_id": id, "payload": payload, "type": kind,
            "accepts_response_payload": accepts,
            "retry_attempt": retry_attempt,
            "retry_reason": if retry_attempt > 0 { "timeout" } else { "" },
        });
        self.command(connection, Command::Send(envelope.to_string(), freeze));
        id
    }

    /// Sends an Events API callback (as posted to `/slack/events`).
    pub fn event(&self, connection: usize, callback: &Value) -> String {
        self.send(connection, "events_api", callback, 0)
    }

    /// Sends an interactivity payload (as in `/slack/interactions`' `payload` field).
    pub fn interaction(&self, connection: usize, payload: &Value) -> String {
        self.send(connection, "interactive", payload, 0)
    }

    /// Sends `disconnect` with `reason`; Slack closes the connection some time later.
    pub fn disconnect(&self, connection: usize, reason: &str, close_after: Duration) {
        let message = json!({ "type": "disconnect", "reason": reason, "debug_info": { "host": "applink-fake" } });
        self.command(connection, Command::Send(message.to_string(), false));
        self.command(connection, Command::CloseAfter(close_after));
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_connection(&self, connection: usize) {
        self.command(connection, Command::Drop);
    }

    /// Stops reading and writing on `connection` (no pongs either), keeping it open.
    pub fn freeze(&self, connection: usize) {
        self.command(connection, Command::Freeze);
    }

    /// The acknowledgements of envelope `id`.
    pub fn acks_of(&self, id: &str) -> Vec<Ack> {
        let state = self.state.lock().unwrap();
        state
            .acks
            .iter()
            .filter(|a| a.envelope_id == id)
            .cloned()
            .collect()
    }

    /// Waits for envelope `id`'s acknowledgement.
    pub async fn wait_for_ack(&self, id: &str, within: Duration) -> Ack {
        let deadline = Instant::now() + within;
        loop {
            if let Some(ack) = self.acks_of(id).into_iter().next() {
                return ack;
            }
            assert!(
                Instant::now() < deadline,
                "envelope {id} was not acknowledged within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every acknowledgement from now on, as it arrives.
    #[allow(dead_code)] // for the benchmarks, which include this file
    pub fn watch_acks(&self) -> mpsc::UnboundedReceiver<Ack> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.state.lock().unwrap().watchers.push(tx);
        rx
    }

    /// Forgets the envelopes and acknowledgements recorded so far.
    #[allow(dead_code)] // for the benchmarks, which include this file
    pub fn forget(&self) {
        let mut state = self.state.lock().unwrap();
        state.sent.clear();
        state.acks.clear();
    }

    /// Acknowledgements that break Slack's protocol.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}
