//! Fuzzes the FastCGI record decoder: any bytes decode to records or an error, never a panic,
//! and every record decoded re-encodes to the same content. The same bytes read as an
//! application's `FCGI_GET_VALUES_RESULT` give limits that are positive numbers or none, and
//! those limits written back as name-value pairs read the same.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use serveur::fastcgi::record::{self, BeginRequest, EndRequest, Kind, Values};

fuzz_target!(|data: &[u8]| {
    let _ = record::parse_pairs(data);
    let _ = BeginRequest::parse(data);
    let _ = EndRequest::parse(data);
    if let Ok(values) = Values::parse(data) {
        assert_ne!(values.max_conns, Some(0));
        assert_ne!(values.max_reqs, Some(0));
        let texts = [values.max_conns, values.max_reqs].map(|n| n.map(|n| n.to_string()));
        let mut again = BytesMut::new();
        record::put_pairs(
            &mut again,
            ["FCGI_MAX_CONNS", "FCGI_MAX_REQS"]
                .iter()
                .zip(&texts)
                .filter_map(|(name, text)| Some((name.as_bytes(), text.as_ref()?.as_bytes()))),
        );
        assert_eq!(Values::parse(&again), Ok(values));
    }
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
