//! Feeds arbitrary headers and bodies to every codec's `decode` and to
//! `decode_any`: each must return `Ok` or a typed error, never panic.
#![no_main]

use evbus_envelope::{Bytes, CodecConfig, CodecKind, codec, decode_any};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Message {
    /// Header names are drawn partly from the ones the codecs look for, so the
    /// fuzzer reaches the CloudEvents and marker paths quickly.
    headers: Vec<(HeaderName, String)>,
    body: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum HeaderName {
    Marker,
    CeKafka(String),
    CeNats(String),
    ContentType,
    Other(String),
}

impl HeaderName {
    fn into_name(self) -> String {
        match self {
            Self::Marker => evbus_envelope::CODEC_HEADER.to_owned(),
            Self::CeKafka(attr) => format!("ce_{attr}"),
            Self::CeNats(attr) => format!("ce-{attr}"),
            Self::ContentType => evbus_envelope::CONTENT_TYPE_HEADER.to_owned(),
            Self::Other(name) => name,
        }
    }
}

fuzz_target!(|message: Message| {
    let headers: Vec<(String, String)> = message
        .headers
        .into_iter()
        .map(|(name, value)| (name.into_name(), value))
        .collect();
    let body = Bytes::from(message.body);
    let config = CodecConfig::default();
    for kind in CodecKind::ALL {
        let codec = codec(kind, &config);
        if let Ok(envelope) = codec.decode(&headers, body.clone()) {
            // Whatever decodes is valid, so the same codec must encode it again
            // (unless the re-encoding, with its mirror headers, is too large).
            assert!(envelope.validate().is_ok());
            if let Err(e) = codec.encode(&envelope) {
                assert_eq!(e.kind(), evbus_envelope::EnvelopeErrorKind::TooLarge, "{e}");
            }
        }
    }
    let _ = decode_any(&headers, body, &config);
});
