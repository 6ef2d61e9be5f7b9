//! `mfa listen`: holds a WebSocket to mfad, shows each login request, sends the answer; comes
//! back by itself (exponential backoff with jitter) when the connection or the server drops.

mod answer;
mod backoff;
mod inbox;
mod input;

use std::io::Stdout;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use mfa_wire::ServerMessage;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::api::Api;
use crate::net::Stream;
use backoff::Backoff;
use inbox::{Effect, Inbox};
use input::{Input, Screen};

/// mfad pings every 20 s; this long without a frame means the connection is dead (a laptop
/// that slept, a NAT that forgot us) even if TCP has not noticed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a connected session ended.
enum Ended {
    /// EOF or Ctrl-C: leave.
    Stop(Input),
    /// The connection is gone: reconnect.
    Dropped(String),
}

struct Listener {
    api: Api,
    server: String,
    events: UnboundedReceiver<Input>,
    screen: Screen<Stdout>,
    inbox: Inbox,
    backoff: Backoff,
}

pub async fn run(api: Api) -> anyhow::Result<()> {
    let server = api.server();
    let mut listener = Listener {
        api,
        server,
        events: input::spawn()?,
        screen: Screen::new(std::io::stdout()),
        inbox: Inbox::default(),
        backoff: Backoff::default(),
    };
    listener.run().await
}

impl Listener {
    async fn run(&mut self) -> anyhow::Result<()> {
        self.screen
            .line(&format!("Connecting to {} ...", self.server));
        loop {
            let attempt = {
                let api = &self.api;
                let connecting = api.websocket();
                tokio::pin!(connecting);
                loop {
                    tokio::select! {
                        result = &mut connecting => break result,
                        event = self.events.recv() => {
                            if let Some(why) = while_offline(&mut self.screen, &self.server, event) {
                                stopped(&mut self.screen, &why);
                                return Ok(());
                            }
                        }
                    }
                }
            };
            let delay;
            match attempt {
                Ok(ws) => match self.session(ws).await {
                    Ended::Stop(why) => {
                        stopped(&mut self.screen, &why);
                        return Ok(());
                    }
                    Ended::Dropped(why) => {
                        delay = self.backoff.next();
                        self.screen.line(&format!(
                            "Disconnected from {}: {why}. Reconnecting in {} ...",
                            self.server,
                            seconds(delay)
                        ));
                        self.inbox.on_disconnect();
                        self.apply_offline();
                    }
                },
                Err(e) if e.is_permanent() => return Err(e.into()),
                Err(e) => {
                    delay = self.backoff.next();
                    self.screen.line(&format!(
                        "{}. Retrying in {} ...",
                        capitalized(&e.to_string()),
                        seconds(delay)
                    ));
                }
            }
            let pause = tokio::time::sleep(delay);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = &mut pause => break,
                    event = self.events.recv() => {
                        if let Some(why) = while_offline(&mut self.screen, &self.server, event) {
                            stopped(&mut self.screen, &why);
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// One connection, until it drops or the person leaves.
    async fn session(&mut self, mut ws: WebSocketStream<Stream>) -> Ended {
        loop {
            tokio::select! {
                frame = tokio::time::timeout(IDLE_TIMEOUT, ws.next()) => {
                    let text = match frame {
                        Err(_) => return Ended::Dropped(format!(
                            "no word from the server for {} s", IDLE_TIMEOUT.as_secs())),
                        Ok(None) => return Ended::Dropped("the connection closed".into()),
                        Ok(Some(Err(e))) => return Ended::Dropped(lost(&e)),
                        Ok(Some(Ok(Message::Close(_)))) =>
                            return Ended::Dropped("the server closed the connection".into()),
                        Ok(Some(Ok(Message::Text(text)))) => text,
                        // Pings are answered by the library; nothing else is expected.
                        Ok(Some(Ok(_))) => continue,
                    };
                    match serde_json::from_str::<ServerMessage>(&text) {
                        Ok(ServerMessage::Hello { alias }) => {
                            self.backoff.reset();
                            self.screen.line(&format!(
                                "Connected to {} as {alias}. Waiting for login requests (Ctrl-C or Ctrl-D to quit).",
                                self.server
                            ));
                        }
                        Ok(message) => self.inbox.on_message(message),
                        Err(e) => self.screen.line(&format!(
                            "Ignored a message from the server that this mfa does not understand ({e})."
                        )),
                    }
                }
                event = self.events.recv() => match event {
                    Some(Input::Line(line)) => {
                        self.screen.entered();
                        self.inbox.on_line(&line);
                    }
                    Some(stop) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                        return Ended::Stop(stop);
                    }
                    None => return Ended::Stop(Input::Eof),
                },
            }
            for effect in self.inbox.take() {
                match effect {
                    Effect::Say(line) => self.screen.line(&line),
                    Effect::Prompt(text) => self.screen.prompt(&text),
                    Effect::Send(message) => {
                        let text = match serde_json::to_string(&message) {
                            Ok(t) => t,
                            Err(e) => {
                                self.screen.line(&format!("Cannot encode the answer: {e}"));
                                continue;
                            }
                        };
                        if let Err(e) = ws.send(Message::Text(text.into())).await {
                            return Ended::Dropped(format!("sending the answer failed: {e}"));
                        }
                    }
                }
            }
        }
    }

    fn apply_offline(&mut self) {
        for effect in self.inbox.take() {
            match effect {
                Effect::Say(line) => self.screen.line(&line),
                Effect::Prompt(text) => self.screen.prompt(&text),
                Effect::Send(_) => {}
            }
        }
    }
}

/// Input while not connected. Some(..) when it means "leave".
fn while_offline(screen: &mut Screen<Stdout>, server: &str, event: Option<Input>) -> Option<Input> {
    match event {
        Some(Input::Line(line)) => {
            screen.entered();
            if !line.trim().is_empty() {
                screen.line(&format!(
                    "Not connected to {server}: nothing to answer yet."
                ));
            }
            None
        }
        Some(stop) => Some(stop),
        None => Some(Input::Eof),
    }
}

fn stopped(screen: &mut Screen<Stdout>, why: &Input) {
    let why = match why {
        Input::Interrupted => "Interrupted",
        _ => "End of input",
    };
    screen.line(&format!("{why}: stopped listening."));
}

/// Why a connection broke, in words.
fn lost(e: &tungstenite::Error) -> String {
    use tungstenite::error::ProtocolError;
    match e {
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            "the connection was cut".into()
        }
        tungstenite::Error::Io(e) => format!("the connection failed ({e})"),
        e => e.to_string(),
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `1.5 s` / `12 s`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_and_errors_read_well() {
        assert_eq!(seconds(Duration::from_millis(1234)), "1.2 s");
        assert_eq!(seconds(Duration::from_secs(17)), "17 s");
        assert_eq!(capitalized("cannot reach x"), "Cannot reach x");
        assert_eq!(capitalized(""), "");
        let cut = tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        );
        assert_eq!(lost(&cut), "the connection was cut");
    }
}
