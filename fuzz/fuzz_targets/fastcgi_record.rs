//! Fuzzes the FastCGI record decoder: any bytes decode to records or an error, never a panic,
//! and every record decoded re-encodes to the same content.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use serveur::fastcgi::record::{self, BeginRequest, EndRequest, Kind};

fuzz_target!(|data: &[u8]| {
    let _ = record::parse_pairs(data);
    let _ = BeginRequest::parse(data);
    let _ = EndRequest::parse(data);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(decoded)) = record::decode(&mut buf) {
        let mut again = BytesMut::new();
        record::put_stream(
            &mut again,
            Kind::Stdout,
            decoded.request_id,
            &decoded.content,
        );
        let mut joined = Vec::new();
        while let Ok(Some(part)) = record::decode(&mut again) {
            joined.extend_from_slice(&part.content);
        }
        assert_eq!(joined, decoded.content);
    }
});
