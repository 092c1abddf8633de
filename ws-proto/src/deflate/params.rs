//! permessage-deflate negotiation (RFC 7692 §5, §7.1) over `Sec-WebSocket-Extensions`
//! (RFC 6455 §9.1).

use std::fmt::Write as _;

use crate::error::Error;

/// The extension name (RFC 7692 §7).
pub const NAME: &str = "permessage-deflate";

/// One extension in a `Sec-WebSocket-Extensions` header: a name and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// `name[=value]` parameters in order (quoted values unquoted).
    pub params: Vec<(String, Option<String>)>,
}

/// Parses every `Sec-WebSocket-Extensions` value (RFC 6455 §9.1 grammar):
/// `ext; p1; p2=v, ext2`. A malformed list is an error (400 for a server).
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ExtensionOffer>, Error> {
    let bad = || Error::handshake(400, "RFC 6455 §9.1", "malformed Sec-WebSocket-Extensions");
    let mut offers = Vec::new();
    for value in values {
        for ext in split_outside_quotes(value, ',') {
            let ext = ext.trim();
            if ext.is_empty() {
                continue;
            }
            let mut parts = split_outside_quotes(ext, ';').into_iter();
            let name = parts.next().unwrap_or_default().trim();
            if !is_token(name) {
                return Err(bad());
            }
            let mut params = Vec::new();
            for part in parts {
                let (key, value) = match part.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(unquote(v.trim()).ok_or_else(bad)?)),
                    None => (part.trim(), None),
                };
                if !is_token(key) {
                    return Err(bad());
                }
                params.push((key.to_owned(), value));
            }
            offers.push(ExtensionOffer {
                name: name.to_owned(),
                params,
            });
        }
    }
    Ok(offers)
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(s.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or_default());
    out
}

fn unquote(v: &str) -> Option<String> {
    match v.strip_prefix('"') {
        Some(inner) => {
            let inner = inner.strip_suffix('"')?;
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next()? } else { c });
            }
            // RFC 6455 §9.1: the unquoted value must itself be a token.
            is_token(&out).then_some(out)
        }
        None => is_token(v).then(|| v.to_owned()),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// What this endpoint wants from permessage-deflate.
///
/// Server role: how to answer offers. `*_no_context_takeover` set here are imposed even
/// if not offered (where the RFC allows); window bits cap what is accepted.
/// Client role: what to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The server resets its compression window after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression window after each message.
    pub client_no_context_takeover: bool,
    /// Largest LZ77 window (base-2 log, 9–15) the server compresses with.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window (base-2 log, 9–15) the client compresses with.
    pub client_max_window_bits: u8,
    /// zlib compression level 0–9 (default 1: fast, most of the gain on chat-like text).
    pub level: u32,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
        }
    }
}

/// The agreed parameters of one connection (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its window after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its window after each message.
    pub client_no_context_takeover: bool,
    /// The server's window bits (8–15).
    pub server_max_window_bits: u8,
    /// The client's window bits (8–15).
    pub client_max_window_bits: u8,
    /// The local compression level.
    pub level: u32,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value that states these parameters.
    ///
    /// `server_bits_explicit`: state `server_max_window_bits` even at 15 (a server must
    /// when the offer had it, RFC 7692 §7.1.2.1); `client_bits_explicit`: state
    /// `client_max_window_bits` (only allowed when offered, §7.1.2.2).
    pub fn to_header(&self, server_bits_explicit: bool, client_bits_explicit: bool) -> String {
        let mut s = String::from(NAME);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if server_bits_explicit || self.server_max_window_bits < 15 {
            let _ = write!(
                s,
                "; server_max_window_bits={}",
                self.server_max_window_bits
            );
        }
        if client_bits_explicit {
            let _ = write!(
                s,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            );
        }
        s
    }
}

/// The parameters of one permessage-deflate offer or response.
#[derive(Debug, Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value.
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses parameters; `None` if one is unknown, repeated or has an invalid value
/// (RFC 7692 §7: "MUST decline" / "MUST _Fail the WebSocket Connection_").
fn parse_params(params: &[(String, Option<String>)]) -> Option<Parsed> {
    let mut p = Parsed::default();
    let mut seen = [false; 4];
    for (key, value) in params {
        let slot = match key.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return None,
        };
        let seen_slot = seen.get_mut(slot)?;
        if std::mem::replace(seen_slot, true) {
            return None;
        }
        match (slot, value) {
            (0, None) => p.server_no_context_takeover = true,
            (1, None) => p.client_no_context_takeover = true,
            (2, Some(v)) => p.server_max_window_bits = Some(window_bits(v)?),
            (3, None) => p.client_max_window_bits = Some(None),
            (3, Some(v)) => p.client_max_window_bits = Some(Some(window_bits(v)?)),
            _ => return None,
        }
    }
    Some(p)
}

/// 8..=15 without leading zeros (RFC 7692 §7.1.2).
fn window_bits(v: &str) -> Option<u8> {
    match v.as_bytes() {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

impl DeflateConfig {
    /// Server role: accepts the first acceptable permessage-deflate offer (RFC 7692 §5.1),
    /// returning the agreed parameters and the response header value; `None` declines
    /// every offer (the connection then runs without compression).
    ///
    /// ```
    /// use ws_proto::deflate::{parse_extensions, DeflateConfig};
    /// let offers = parse_extensions(["permessage-deflate; client_max_window_bits=10, permessage-deflate"]).unwrap();
    /// let (params, header) = DeflateConfig::default().accept(&offers).unwrap();
    /// assert_eq!(params.client_max_window_bits, 10);
    /// assert_eq!(header, "permessage-deflate; client_max_window_bits=10");
    /// ```
    pub fn accept(&self, offers: &[ExtensionOffer]) -> Option<(DeflateParams, String)> {
        offers.iter().filter(|o| o.name == NAME).find_map(|offer| {
            let p = parse_params(&offer.params)?;
            let own_server_bits = self.server_max_window_bits.clamp(9, 15);
            let server_bits = match p.server_max_window_bits {
                // zlib cannot compress with an 8-bit window: decline this offer.
                Some(8) => return None,
                Some(bits) => bits.min(own_server_bits),
                None => own_server_bits,
            };
            let (client_bits, explicit) = match p.client_max_window_bits {
                None => (15, false),
                Some(hint) => {
                    let bits = hint
                        .unwrap_or(15)
                        .min(self.client_max_window_bits.clamp(9, 15));
                    (bits, bits < 15 || hint.is_some())
                }
            };
            let params = DeflateParams {
                server_no_context_takeover: p.server_no_context_takeover
                    || self.server_no_context_takeover,
                client_no_context_takeover: p.client_no_context_takeover
                    || self.client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
                level: self.level,
            };
            Some((
                params,
                params.to_header(p.server_max_window_bits.is_some(), explicit),
            ))
        })
    }

    /// Client role: the offer to send in `Sec-WebSocket-Extensions`.
    pub fn offer(&self) -> String {
        let mut s = String::from(NAME);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        let server_bits = self.server_max_window_bits.clamp(9, 15);
        if server_bits < 15 {
            let _ = write!(s, "; server_max_window_bits={server_bits}");
        }
        let client_bits = self.client_max_window_bits.clamp(9, 15);
        if client_bits < 15 {
            let _ = write!(s, "; client_max_window_bits={client_bits}");
        } else {
            s.push_str("; client_max_window_bits");
        }
        s
    }

    /// Client role: validates the server's response to [`DeflateConfig::offer`]
    /// (RFC 7692 §5.1, §7.1): one permessage-deflate at most, known parameters only,
    /// windows within what was offered. `Ok(None)`: the server declined compression.
    pub fn check_response(
        &self,
        response: &[ExtensionOffer],
    ) -> Result<Option<DeflateParams>, Error> {
        let fail = |m: &'static str| Error::bad_response("RFC 7692 §7.1", m);
        let ext = match response {
            [] => return Ok(None),
            [ext] if ext.name == NAME => ext,
            [_] => {
                return Err(Error::bad_response(
                    "RFC 6455 §4.1",
                    "server accepted an extension that was not offered",
                ));
            }
            _ => return Err(fail("server answered with more than one extension")),
        };
        let p = parse_params(&ext.params)
            .ok_or_else(|| fail("invalid permessage-deflate parameters in the response"))?;
        if self.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(fail(
                "server dropped the offered server_no_context_takeover",
            ));
        }
        let offered_server_bits = self.server_max_window_bits.clamp(9, 15);
        let server_bits = p.server_max_window_bits.unwrap_or(15);
        if offered_server_bits < 15 && server_bits > offered_server_bits {
            return Err(fail("server_max_window_bits larger than offered"));
        }
        let own_client_bits = self.client_max_window_bits.clamp(9, 15);
        let client_bits = match p.client_max_window_bits {
            None => own_client_bits,
            Some(None) => return Err(fail("client_max_window_bits without a value in a response")),
            Some(Some(bits)) if bits < 9 => {
                return Err(fail("client_max_window_bits=8 is not supported by zlib"));
            }
            Some(Some(bits)) => bits.min(own_client_bits),
        };
        Ok(Some(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            level: self.level,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(s: &str) -> Vec<ExtensionOffer> {
        parse_extensions([s]).unwrap()
    }

    /// RFC 7692 §5.1: the server takes the first acceptable of several offers, declining
    /// ones with unknown, repeated or invalid parameters.
    #[test]
    fn rfc7692_5_1_first_acceptable_offer_wins() {
        let cfg = DeflateConfig::default();
        let o = offers(
            "permessage-deflate; foo, permessage-deflate; server_max_window_bits=08, \
             permessage-deflate; client_no_context_takeover; client_no_context_takeover, \
             permessage-deflate; server_max_window_bits=8, \
             permessage-deflate; server_max_window_bits=\"10\"; server_no_context_takeover",
        );
        let (p, header) = cfg.accept(&o).unwrap();
        assert_eq!(p.server_max_window_bits, 10);
        assert!(p.server_no_context_takeover);
        assert_eq!(
            header,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
        assert!(cfg.accept(&offers("x-webkit-deflate-frame")).is_none());
    }

    /// RFC 7692 §7.1.2.2: client_max_window_bits in a response only if offered.
    #[test]
    fn rfc7692_7_1_2_2_client_bits_only_if_offered() {
        let cfg = DeflateConfig {
            client_max_window_bits: 10,
            ..Default::default()
        };
        let (p, h) = cfg.accept(&offers("permessage-deflate")).unwrap();
        assert_eq!(
            (p.client_max_window_bits, h.as_str()),
            (15, "permessage-deflate")
        );
        let (p, h) = cfg
            .accept(&offers("permessage-deflate; client_max_window_bits"))
            .unwrap();
        assert_eq!(
            (p.client_max_window_bits, h.as_str()),
            (10, "permessage-deflate; client_max_window_bits=10")
        );
    }

    /// RFC 7692 §7.1: every parameter combination offered by a client is accepted by a
    /// server with the same wishes, and the client accepts the answer with the same
    /// agreed parameters.
    #[test]
    fn rfc7692_7_1_offer_accept_check_agree() {
        for snct in [false, true] {
            for cnct in [false, true] {
                for sbits in 9..=15 {
                    for cbits in 9..=15 {
                        let cfg = DeflateConfig {
                            server_no_context_takeover: snct,
                            client_no_context_takeover: cnct,
                            server_max_window_bits: sbits,
                            client_max_window_bits: cbits,
                            level: 1,
                        };
                        let (server, header) = DeflateConfig::default()
                            .accept(&offers(&cfg.offer()))
                            .unwrap();
                        let client = cfg.check_response(&offers(&header)).unwrap().unwrap();
                        assert_eq!(server, client, "{}", cfg.offer());
                        assert_eq!(
                            (server.server_max_window_bits, server.client_max_window_bits),
                            (sbits, cbits)
                        );
                    }
                }
            }
        }
    }

    /// RFC 7692 §7.1: responses a client must fail.
    #[test]
    fn rfc7692_7_1_bad_responses() {
        let cfg = DeflateConfig {
            server_max_window_bits: 10,
            server_no_context_takeover: true,
            ..Default::default()
        };
        for bad in [
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=8",
            "permessage-deflate; server_no_context_takeover; bogus",
            "permessage-deflate; server_no_context_takeover, permessage-deflate; server_no_context_takeover",
            "x-other",
        ] {
            assert!(cfg.check_response(&offers(bad)).is_err(), "{bad}");
        }
    }

    /// RFC 6455 §9.1: malformed extension lists.
    #[test]
    fn rfc6455_9_1_malformed_extension_header() {
        for bad in [
            "permessage-deflate; =1",
            "a b",
            "x; y=\"a b\"",
            "x; y=\"unterminated",
        ] {
            assert!(parse_extensions([bad]).is_err(), "{bad}");
        }
    }
}
