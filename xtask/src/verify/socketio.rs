//! A minimal Socket.IO v4 client over Engine.IO v4 HTTP long-polling, on the `Transport` seam:
//! polling is plain HTTP (a GET receives the packets the server buffered, a POST sends one), so
//! it goes through curl like every other check, bounded the same way. Only what `verify` needs:
//! open the session, connect to the main namespace, emit an event with an ack id, read events
//! and acks, answer pings, close.
//!
//! Wire format (socketio/engine.io-protocol README.md, "HTTP long-polling", "Handshake",
//! "Packet encoding"; socketio/socket.io-protocol Readme.md, "Packet encoding", "Sample
//! session"): the handshake `GET /socket.io/?EIO=4&transport=polling` answers the open packet
//! `0{"sid":…}`; every later request carries `&sid=`; a POST answers `ok`; a GET answers one or
//! more packets separated by the record separator `\x1e`. An Engine.IO packet is its type digit
//! (0 open, 1 close, 2 ping, 3 pong, 4 message) and data; a message holds a Socket.IO packet:
//! its type digit (0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR), the ack id for
//! EVENT and ACK, then JSON: `40` connects, `420["login",{…}]` emits with ack id 0, and the
//! server answers `430[{…}]`.

use serde_json::Value as Json;

use super::Ctx;
use super::http::Request;

/// Engine.IO v4's packet separator in a polling payload.
pub const SEPARATOR: char = '\x1e';

/// One decoded packet, as far as `verify` reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// Engine.IO open: the handshake data.
    Open(Json),
    /// Engine.IO close.
    Close,
    /// Engine.IO ping: to be answered with a pong.
    Ping,
    /// Socket.IO CONNECT to the main namespace accepted.
    Connect,
    /// Socket.IO CONNECT_ERROR: the namespace refused us.
    ConnectError(Json),
    /// Socket.IO DISCONNECT.
    Disconnect,
    /// Socket.IO EVENT: its name and arguments.
    Event(String, Vec<Json>),
    /// Socket.IO ACK: its id and arguments.
    Ack(u64, Vec<Json>),
    /// Anything else (pong, noop, binary, another namespace): ignored.
    Other,
}

/// Splits a polling payload into packets and decodes each.
pub fn decode_payload(body: &str) -> Vec<Packet> {
    body.split(SEPARATOR).filter(|p| !p.is_empty()).map(decode).collect()
}

fn decode(packet: &str) -> Packet {
    let (kind, data) = packet.split_at(packet.chars().next().map_or(0, char::len_utf8));
    match kind {
        "0" => serde_json::from_str(data).map_or(Packet::Other, Packet::Open),
        "1" => Packet::Close,
        "2" => Packet::Ping,
        "4" => decode_message(data),
        _ => Packet::Other,
    }
}

/// A Socket.IO packet of the main namespace (no `/nsp,` prefix).
fn decode_message(data: &str) -> Packet {
    let (kind, rest) = data.split_at(data.chars().next().map_or(0, char::len_utf8));
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (id, json) = rest.split_at(digits);
    let args = || serde_json::from_str::<Json>(json).ok().and_then(|v| v.as_array().cloned());
    match kind {
        "0" => Packet::Connect,
        "1" => Packet::Disconnect,
        "2" => match args() {
            Some(mut a) if a.first().is_some_and(Json::is_string) => {
                let name = a.remove(0).as_str().unwrap_or_default().to_string();
                Packet::Event(name, a)
            }
            _ => Packet::Other,
        },
        "3" => match (id.parse(), args()) {
            (Ok(id), Some(a)) => Packet::Ack(id, a),
            _ => Packet::Other,
        },
        "4" => Packet::ConnectError(serde_json::from_str(json).unwrap_or(Json::Null)),
        _ => Packet::Other,
    }
}

/// `420["name",arg]`: an EVENT of the main namespace with ack id `id`, in an Engine.IO message.
pub fn encode_event(id: u64, name: &str, arg: &Json) -> String {
    format!("42{id}{}", Json::Array(vec![Json::String(name.to_string()), arg.clone()]))
}

/// An open session with a server reached as `host` through Traefik.
pub struct Session<'a> {
    ctx: &'a Ctx<'a>,
    host: &'a str,
    sid: String,
}

impl<'a> Session<'a> {
    /// The handshake, then CONNECT to the main namespace, then waits for the `ready` event
    /// (a server that registers its handlers only after emitting it drops earlier events).
    pub fn connect(ctx: &'a Ctx<'a>, host: &'a str, ready: &str) -> Result<Session<'a>, String> {
        let body = ctx.text(&ctx.request(host, "/socket.io/?EIO=4&transport=polling"))?;
        let sid = match decode_payload(&body).into_iter().next() {
            Some(Packet::Open(open)) => open["sid"].as_str().map(str::to_string),
            _ => None,
        };
        let Some(sid) = sid else {
            return Err(format!("not an Engine.IO v4 open packet: {}", super::report::snippet(&body)));
        };
        let session = Session { ctx, host, sid };
        session.post("40")?;
        let mut connected = false;
        session.read_until(|p| {
            connected |= *p == Packet::Connect;
            connected && matches!(p, Packet::Event(name, _) if name == ready)
        })?;
        Ok(session)
    }

    fn url(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", super::http::encode(&self.sid))
    }

    /// Sends one packet; its text goes to curl on its standard input (it may hold a password).
    pub fn post(&self, packet: &str) -> Result<(), String> {
        let req = Request { method: "POST", text_body: Some(packet.to_string()), ..self.ctx.request(self.host, &self.url()) };
        let body = self.ctx.text(&req)?;
        if body.trim() != "ok" {
            return Err(format!("the server did not accept a packet: {}", super::report::snippet(&body)));
        }
        Ok(())
    }

    /// Polls, answering pings, until `done` holds of a packet; returns every packet read, that
    /// one included. Bounded: a poll the server has nothing for ends at the transport's timeout,
    /// and the wait as a whole at twice that (a server that keeps sending other events, such as
    /// heartbeats, does not keep it going), in at most `MAX_POLLS` polls.
    pub fn read_until(&self, mut done: impl FnMut(&Packet) -> bool) -> Result<Vec<Packet>, String> {
        const MAX_POLLS: usize = 50;
        let bound = self.ctx.opts.timeout * 2;
        let start = std::time::Instant::now();
        let mut seen = Vec::new();
        for _ in 0..MAX_POLLS {
            if start.elapsed() > bound {
                return Err(format!("no answer within {} s", bound.as_secs()));
            }
            let body = self.ctx.text(&self.ctx.request(self.host, &self.url()))?;
            for packet in decode_payload(&body) {
                match &packet {
                    Packet::Ping => self.post("3")?,
                    Packet::Close | Packet::Disconnect => return Err("the server closed the session".to_string()),
                    Packet::ConnectError(e) => {
                        return Err(format!("connection refused: {}", e["message"].as_str().unwrap_or("no reason given")));
                    }
                    _ => {}
                }
                let end = done(&packet);
                seen.push(packet);
                if end {
                    return Ok(seen);
                }
            }
        }
        Err(format!("no answer after {MAX_POLLS} polls"))
    }

    /// Closes the session (Engine.IO close); what the server answers no longer matters.
    pub fn close(self) {
        let _ = self.post("1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_decode_as_the_protocol_documents() {
        let payload = "40{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}\x1e42[\"hey\",\"Jude\"]\x1e2\x1e430[{\"ok\":true}]\x1e44{\"message\":\"Not authorized\"}";
        assert_eq!(
            decode_payload(payload),
            [
                Packet::Connect,
                Packet::Event("hey".into(), vec![Json::from("Jude")]),
                Packet::Ping,
                Packet::Ack(0, vec![serde_json::json!({"ok": true})]),
                Packet::ConnectError(serde_json::json!({"message": "Not authorized"})),
            ]
        );
        let open = decode_payload("0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000}");
        assert!(matches!(&open[..], [Packet::Open(o)] if o["sid"] == "lv_VI97HAXpY6yYWAAAC"));
        assert_eq!(decode_payload("412[\"x\"]\x1e4212[\"x\"]\x1e"), [Packet::Disconnect, Packet::Event("x".into(), vec![])]);
        assert_eq!(encode_event(0, "login", &serde_json::json!({"username": "a\"b"})), "420[\"login\",{\"username\":\"a\\\"b\"}]");
    }
}
