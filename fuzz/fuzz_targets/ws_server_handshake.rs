//! Server handshake: any bytes parse to a head, `Partial` or an error with an HTTP
//! status, never a panic; an accepted request yields a 101 our client parser reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::server::{ServerConfig, accept};
use ws_proto::http::{HeadLimits, Parsed, parse_request, parse_response};

fuzz_target!(|data: &[u8]| {
    let config = ServerConfig {
        subprotocols: vec!["mqtt".into(), "chat".into()],
        deflate: Some(DeflateConfig::default()),
        ..ServerConfig::default()
    };
    match parse_request(data, &config.limits) {
        Ok(Parsed::Complete(head, used)) => {
            assert!(used <= data.len());
            let _ = head.content_length();
            match accept(&head, &config) {
                Ok(accepted) => {
                    let Ok(Parsed::Complete(response, n)) = parse_response(&accepted.response, &HeadLimits::default())
                    else {
                        panic!("our 101 does not parse");
                    };
                    assert_eq!(response.status, 101);
                    assert_eq!(n, accepted.response.len());
                }
                Err(rejection) => assert!(rejection.error.http_status().is_some()),
            }
        }
        Ok(Parsed::Partial) => {}
        Err(e) => assert!(e.http_status().is_some()),
    }
});
