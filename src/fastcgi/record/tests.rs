//! Known byte sequences from the FastCGI specification, then properties: decoding arbitrary
//! bytes never panics, and whatever is encoded decodes to itself.

use proptest::prelude::*;

use super::*;

fn decode_all(mut buf: BytesMut) -> Result<Vec<Record>, ProtocolError> {
    let mut records = Vec::new();
    while let Some(record) = decode(&mut buf)? {
        records.push(record);
    }
    assert!(
        buf.len() < HEADER_LEN + MAX_CONTENT + 255,
        "whole records left undecoded"
    );
    Ok(records)
}

#[test]
fn begin_request_is_the_specifications_sixteen_bytes() {
    let mut out = BytesMut::new();
    put_begin_request(&mut out, 1, ROLE_RESPONDER, true);
    assert_eq!(&out[..], [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
}

#[test]
fn stream_records_are_padded_to_eight_bytes_and_end_empty() {
    let mut out = BytesMut::new();
    put_stream(&mut out, Kind::Stdin, 258, b"abc");
    put_stream_end(&mut out, Kind::Stdin, 258);
    assert_eq!(
        &out[..],
        [
            1, 5, 1, 2, 0, 3, 5, 0, b'a', b'b', b'c', 0, 0, 0, 0, 0, // "abc" + 5 padding
            1, 5, 1, 2, 0, 0, 0, 0, // end of stream
        ]
    );
}

#[test]
fn an_empty_stream_write_appends_nothing() {
    let mut out = BytesMut::new();
    put_stream(&mut out, Kind::Stdout, 1, b"");
    assert!(out.is_empty());
}

#[test]
fn pair_lengths_use_one_byte_below_128_and_four_above() {
    let mut out = BytesMut::new();
    let long = [b'v'; 200];
    put_pairs(&mut out, [(&b"A"[..], &long[..])]);
    assert_eq!(&out[..6], [1, 0x80, 0, 0, 200, b'A']);
    assert_eq!(out.len(), 6 + 200);
}

#[test]
fn a_record_waits_for_its_padding_before_it_is_taken() {
    let mut whole = BytesMut::new();
    put_stream(&mut whole, Kind::Stdout, 1, b"hello");
    for cut in 0..whole.len() {
        let mut part = BytesMut::from(&whole[..cut]);
        assert_eq!(decode(&mut part), Ok(None), "cut at {cut}");
        assert_eq!(part.len(), cut, "a partial record is left in place");
    }
    let record = decode(&mut whole).expect("valid").expect("whole");
    assert_eq!(record.content, &b"hello"[..]);
    assert!(whole.is_empty());
}

#[test]
fn a_wrong_version_is_an_error() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
    assert_eq!(decode(&mut buf), Err(ProtocolError::Version(b'H')));
}

#[test]
fn end_request_reads_status_and_refusals() {
    let mut out = BytesMut::new();
    let end = EndRequest {
        app_status: 0x0102_0304,
        protocol_status: 2,
    };
    put_end_request(&mut out, 7, end);
    let record = decode(&mut out).expect("valid").expect("whole");
    assert_eq!(record.kind, Kind::EndRequest as u8);
    let parsed = EndRequest::parse(&record.content).expect("8 bytes");
    assert_eq!(parsed, end);
    assert_eq!(parsed.refusal(), Some("overloaded"));
    assert_eq!(
        EndRequest::parse(&[0; 7]),
        Err(ProtocolError::BodyLength(3, 7))
    );
}

#[test]
fn truncated_pairs_are_errors() {
    assert_eq!(
        parse_pairs(&[5, 0, b'a']),
        Err(ProtocolError::TruncatedPair)
    );
    assert_eq!(parse_pairs(&[0x80, 0]), Err(ProtocolError::TruncatedPair));
    assert_eq!(parse_pairs(&[1]), Err(ProtocolError::TruncatedPair));
    assert_eq!(
        parse_pairs(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Err(ProtocolError::TruncatedPair)
    );
}

#[test]
fn get_values_asks_the_three_names_of_the_specification_on_request_zero() {
    let mut out = BytesMut::new();
    put_get_values(&mut out);
    let records = decode_all(out).expect("valid");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, Kind::GetValues as u8);
    assert_eq!(records[0].request_id, 0);
    let asked = parse_pairs(&records[0].content).expect("pairs");
    let names: Vec<&[u8]> = asked.iter().map(|(n, _)| &n[..]).collect();
    assert_eq!(
        names,
        [&b"FCGI_MAX_CONNS"[..], b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS"]
    );
    assert!(asked.iter().all(|(_, v)| v.is_empty()));
}

fn values_of(pairs: &[(&str, &str)]) -> Result<Values, ProtocolError> {
    let mut out = BytesMut::new();
    put_pairs(
        &mut out,
        pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
    );
    Values::parse(&out)
}

#[test]
fn values_keep_positive_decimal_numbers_only() {
    // php-fpm 8.2's whole answer: no limit given.
    let php_fpm = values_of(&[("FCGI_MPXS_CONNS", "0")]).expect("valid");
    assert_eq!(php_fpm, Values::default());
    assert_eq!(php_fpm.capacity(), None);
    let told = values_of(&[("FCGI_MAX_CONNS", "8"), ("FCGI_MAX_REQS", "5")]).expect("valid");
    assert_eq!(told.capacity(), Some(5));
    assert_eq!(
        values_of(&[("FCGI_MAX_REQS", "12")])
            .expect("valid")
            .capacity(),
        Some(12)
    );
    for nonsense in [
        "0",
        "-3",
        "+3",
        " 3",
        "3 ",
        "three",
        "",
        "99999999999",
        "1e3",
    ] {
        let values = values_of(&[("FCGI_MAX_CONNS", nonsense)]).expect("valid");
        assert_eq!(values.capacity(), None, "{nonsense:?}");
    }
    assert_eq!(values_of(&[]).expect("valid"), Values::default());
    assert_eq!(Values::parse(&[14, 1]), Err(ProtocolError::TruncatedPair));
}

#[test]
fn every_defined_type_byte_has_its_kind() {
    for byte in 1..=11 {
        assert_eq!(Kind::from_byte(byte).map(|k| k as u8), Some(byte));
    }
    assert_eq!(Kind::from_byte(0), None);
    assert_eq!(Kind::from_byte(12), None);
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_all(BytesMut::from(&bytes[..]));
        let _ = parse_pairs(&bytes);
        let _ = BeginRequest::parse(&bytes);
        let _ = EndRequest::parse(&bytes);
        let _ = Values::parse(&bytes);
    }

    #[test]
    fn values_round_trip(max_conns in proptest::option::of(1..=u32::MAX), max_reqs in proptest::option::of(1..=u32::MAX)) {
        let mut out = BytesMut::new();
        let texts = [max_conns.map(|n| n.to_string()), max_reqs.map(|n| n.to_string())];
        let pairs = ["FCGI_MAX_CONNS", "FCGI_MAX_REQS"]
            .iter()
            .zip(&texts)
            .filter_map(|(name, text)| Some((name.as_bytes(), text.as_ref()?.as_bytes())));
        put_pairs(&mut out, pairs);
        let values = Values::parse(&out).expect("valid");
        prop_assert_eq!(values, Values { max_conns, max_reqs });
    }

    #[test]
    fn pairs_round_trip(
        pairs in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..300), proptest::collection::vec(any::<u8>(), 0..300)),
            0..20,
        )
    ) {
        let mut out = BytesMut::new();
        put_pairs(&mut out, pairs.iter().map(|(n, v)| (&n[..], &v[..])));
        let parsed = parse_pairs(&out).expect("valid");
        let parsed: Vec<(Vec<u8>, Vec<u8>)> =
            parsed.into_iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        prop_assert_eq!(parsed, pairs);
    }

    #[test]
    fn begin_and_end_request_round_trip(
        request_id in any::<u16>(),
        role in any::<u16>(),
        keep_conn in any::<bool>(),
        app_status in any::<u32>(),
        protocol_status in any::<u8>(),
    ) {
        let mut out = BytesMut::new();
        put_begin_request(&mut out, request_id, role, keep_conn);
        let end = EndRequest { app_status, protocol_status };
        put_end_request(&mut out, request_id, end);
        put_abort_request(&mut out, request_id);
        let records = decode_all(out).expect("valid");
        prop_assert_eq!(records.len(), 3);
        prop_assert_eq!(BeginRequest::parse(&records[0].content).expect("begin"), BeginRequest { role, keep_conn });
        prop_assert_eq!(EndRequest::parse(&records[1].content).expect("end"), end);
        prop_assert_eq!(records[2].kind, Kind::AbortRequest as u8);
        prop_assert!(records[2].content.is_empty());
    }
}

proptest! {
    // Streams are long (several records each): fewer cases keep the debug build quick.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_stream_round_trips_through_records(
        kind in prop_oneof![Just(Kind::Params), Just(Kind::Stdin), Just(Kind::Stdout), Just(Kind::Stderr)],
        request_id in any::<u16>(),
        data in proptest::collection::vec(any::<u8>(), 0..200_000),
    ) {
        let mut out = BytesMut::new();
        put_stream(&mut out, kind, request_id, &data);
        put_stream_end(&mut out, kind, request_id);
        let records = decode_all(out).expect("valid");
        prop_assert_eq!(records.len(), data.len().div_ceil(MAX_CONTENT) + 1);
        let mut joined = Vec::new();
        for record in &records {
            prop_assert_eq!(record.kind, kind as u8);
            prop_assert_eq!(record.request_id, request_id);
            joined.extend_from_slice(&record.content);
        }
        prop_assert_eq!(joined, data);
        prop_assert!(records.last().expect("end record").content.is_empty());
    }
}
