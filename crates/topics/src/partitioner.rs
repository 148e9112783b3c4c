//! Which partition a key goes to: the same on every backend, so an
//! aggregate's partition number is the same on Kafka and on NATS.

/// The partition of `key` among `partitions`: librdkafka's `fnv1a`
/// partitioner (the one the Kafka transport configures, `fnv1a_random`,
/// for keyed messages), which is also Sarama's `NewHashPartitioner`: the
/// 32-bit FNV-1a hash of the key's bytes read as a signed integer, made
/// non-negative, modulo the partition count. `partitions` of 0 is read as 1.
///
/// ```
/// use evbus_topics::key_partition;
///
/// assert_eq!(key_partition(b"kafka", 12), 0x0d33_c4e1 % 12);
/// assert!(key_partition(b"order-42", 12) < 12);
/// ```
pub fn key_partition(key: &[u8], partitions: u32) -> u32 {
    fnv1a_sarama(key) % partitions.max(1)
}

/// librdkafka's `rd_fnv1a`: FNV-1a 32, then the absolute value of the hash
/// read as an `i32` (`i32::MIN` stays as it is, as in C).
fn fnv1a_sarama(key: &[u8]) -> u32 {
    let hash = key.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    });
    // Reinterpreting the bits is the point: C's int32_t arithmetic.
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    let positive = (hash as i32).wrapping_abs() as u32;
    positive
}

#[cfg(test)]
mod tests {
    use super::*;

    /// librdkafka's own unit test vectors (src/rdfnv1a.c, taken from Go's
    /// hash/fnv with Sarama's absolute value).
    #[test]
    fn matches_librdkafka_vectors() {
        let unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: [(&str, u32); 11] = [
            ("kafka", 0x0d33_c4e1),
            ("giberish123456789", 0x77a5_8295),
            ("1234", 0x023b_dd03),
            ("234", 0x2dea_3cd2),
            ("34", 0x740f_a83e),
            ("4", 0x310c_a263),
            (unaligned, 0x65cb_d69c),
            (&unaligned[1..], 0x6e49_c79a),
            (&unaligned[2..], 0x69ee_d356),
            (&unaligned[3..], 0x6abc_c023),
            ("", 0x7ee3_623b),
        ];
        for (key, hash) in cases {
            assert_eq!(fnv1a_sarama(key.as_bytes()), hash, "{key:?}");
            assert_eq!(key_partition(key.as_bytes(), 12), hash % 12, "{key:?}");
        }
    }

    #[test]
    fn zero_partitions_is_one() {
        assert_eq!(key_partition(b"x", 0), 0);
        assert_eq!(key_partition(b"x", 1), 0);
    }
}
