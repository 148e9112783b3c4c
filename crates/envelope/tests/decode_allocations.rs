//! Decoding allocates in proportion to its input: at most twice the input's
//! size plus a constant, measured as the peak of live heap bytes while
//! `decode` runs (the returned envelope included).

// A global allocator can only be written with `unsafe`; this test file is the
// only place in the crate that needs it, and it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use evbus_envelope::{CodecConfig, CodecKind, Envelope, codec, decode_any};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measuring thread counts, so parallel tests do not interfere.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

fn measuring() -> bool {
    MEASURING.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: every call is forwarded unchanged to `System`; the counters do not
// affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if measuring() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if measuring() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if measuring() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allowance for fixed-size bookkeeping: error messages, the header map's
/// table for up to 64 headers, small temporaries.
const CONSTANT: usize = 16 * 1024;

/// Peak live bytes allocated by `f`, including what it returns.
fn peak_of<T>(f: impl FnOnce() -> T) -> usize {
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    MEASURING.with(|m| m.set(true));
    let result = f();
    MEASURING.with(|m| m.set(false));
    drop(result);
    PEAK.load(Ordering::SeqCst)
}

fn assert_proportional(what: &str, headers: &[(String, String)], body: &Bytes) {
    let input = body.len()
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>();
    let config = CodecConfig::default();
    for kind in CodecKind::ALL {
        let codec = codec(kind, &config);
        let peak = peak_of(|| codec.decode(headers, body.clone()));
        assert!(
            peak <= 2 * input + CONSTANT,
            "{what} via {kind}: {peak} bytes for {input} bytes of input"
        );
    }
    let peak = peak_of(|| decode_any(headers, body.clone(), &config));
    assert!(
        peak <= 2 * input + CONSTANT,
        "{what} via decode_any: {peak} bytes for {input}"
    );
}

#[test]
fn decoding_allocates_at_most_twice_the_input_plus_a_constant() {
    let config = CodecConfig::default();
    // Valid messages, with a payload the decoder shares instead of copying.
    for payload_len in [256, 64 * 1024, 900_000] {
        let payload = format!("\"{}\"", "x".repeat(payload_len));
        let mut builder = Envelope::builder("order-1", "order.created", 7, payload)
            .trace_id("t".repeat(100))
            .tenant_id("acme");
        for i in 0..64 {
            builder = builder.header(format!("h{i}"), "v");
        }
        let envelope = builder.build().unwrap();
        for kind in CodecKind::ALL {
            let encoded = codec(kind, &config).encode(&envelope).unwrap();
            assert_proportional(
                &format!("valid {kind} ({payload_len} B payload)"),
                &encoded.headers,
                &encoded.body,
            );
        }
    }

    // Hostile inputs: long escaped strings, header floods, deep nesting,
    // length prefixes that claim more than there is.
    let escaped = format!(
        r#"{{"event_id":"{}","aggregate_id":"a","event_type":"{}","event_version":1,"timestamp":"2024-01-01T00:00:00Z","payload":1}}"#,
        "\\n".repeat(200_000),
        "\\u00e9".repeat(50_000)
    );
    assert_proportional("escaped JSON strings", &[], &Bytes::from(escaped));
    let flood: Vec<u8> = std::iter::repeat_n([0x52u8, 0x00], 100_000)
        .flatten()
        .collect();
    assert_proportional("protobuf header flood", &[], &Bytes::from(flood));
    let many_headers: Vec<(String, String)> = (0..5_000)
        .map(|i| (format!("h{i}"), String::new()))
        .collect();
    assert_proportional(
        "transport header flood",
        &many_headers,
        &Bytes::from_static(b"{}"),
    );
    let nested = format!(
        "{{\"payload\":{}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_proportional("deep nesting", &[], &Bytes::from(nested));
    let huge_length = Bytes::from_static(&[0x62, 0xff, 0xff, 0xff, 0xff, 0x0f, b'x']);
    assert_proportional("protobuf length beyond the input", &[], &huge_length);
    let random: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_proportional("pseudo-random bytes", &[], &Bytes::from(random));
}
