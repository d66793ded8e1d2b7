//! `cargo bench --bench storage`: cloud-storage figures.
//!
//! Measured here: `aes_gcm_gbps`, the segment encryptor's throughput on one core
//! (gigabits per second of plaintext through `SegmentWriter` with 64 KiB chunks), and
//! `seg_decrypt_gbps` for the reader. Not measured yet (reported as null, never guessed):
//! `storage_cpu_pct`, `storage_mem_bitrate_s`, `upload_vs_rclone`.
//! The LAST line printed is one JSON object.

use std::time::Instant;

use eyrie_protocol::segment::{KeyId, SegmentKey, SegmentWriter, decrypt_to_vec};

fn main() {
    let key = SegmentKey::from_bytes([7; 32]);
    let kid = KeyId([1; 8]);
    let block = vec![0x5au8; 1 << 20];
    let total: usize = 512 << 20;
    // Warm up, then measure.
    for round in 0..2 {
        let t0 = Instant::now();
        let mut w = SegmentWriter::new(std::io::sink(), &key, kid, 64 * 1024).expect("writer");
        let mut done = 0;
        while done < (if round == 0 { 32 << 20 } else { total }) {
            w.push(&block).expect("push");
            done += block.len();
        }
        w.finish().expect("finish");
        if round == 1 {
            let secs = t0.elapsed().as_secs_f64();
            let enc_gbps = total as f64 * 8.0 / secs / 1e9;
            let seg: Vec<u8> = {
                let mut w = SegmentWriter::new(Vec::new(), &key, kid, 64 * 1024).expect("writer");
                for _ in 0..64 {
                    w.push(&block).expect("push");
                }
                w.finish().expect("finish")
            };
            let t1 = Instant::now();
            let plain = decrypt_to_vec(&seg, &key, Some(kid)).expect("decrypt");
            let dec_gbps = plain.len() as f64 * 8.0 / t1.elapsed().as_secs_f64() / 1e9;
            println!(
                "segment encryption: {enc_gbps:.2} Gbit/s ({:.2} GB/s) on one core",
                enc_gbps / 8.0
            );
            println!("segment decryption: {dec_gbps:.2} Gbit/s");
            println!(
                "storage_cpu_pct, storage_mem_bitrate_s, upload_vs_rclone: not measured in this build"
            );
            println!(
                "{{\"aes_gcm_gbps\": {enc_gbps:.3}, \"aes_gcm_gbytes_per_s\": {:.3}, \"seg_decrypt_gbps\": {dec_gbps:.3}, \"storage_cpu_pct\": null, \"storage_mem_bitrate_s\": null, \"upload_vs_rclone\": null}}",
                enc_gbps / 8.0
            );
        }
    }
}
