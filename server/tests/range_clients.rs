//! The server side of Range-heavy clients on the device API: RAUC's HTTP streaming
//! (rauc-hawkbit-updater `stream_bundle=true`, which reads the bundle through NBD in small Range
//! GETs with the target token) and SWUpdate's delta handler (hundreds of ranges per request).
//! Range requests write no action-status rows and do not count against the DoS filter's
//! per-client limit (hawkBit #1249 hit both: 1000 status rows per action, 200 reads per second).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};
use updraft_server::config::Config;

/// Devices are public clients behind the loopback proxy (`X-Forwarded-For`), limited to five
/// reads a second; the test's own Management API calls come from loopback, which is not limited.
fn limited(c: &mut Config) {
    c.dos_filter.max_read = 5;
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    c.quotas.max_status_entries_per_action = 20;
}

backend_tests!(
    @tweak super::limited;
    ranges_write_no_status_rows_and_pass_the_dos_filter,
    a_rauc_streaming_client_reads_the_whole_bundle_in_ranges,
    failed_range_requests_still_count,
);

const CLIENT: &str = "198.51.100.23";
/// RAUC's streaming reads (NBD requests of one squashfs block).
const BLOCK: usize = 128 * 1024;

fn bundle() -> Vec<u8> {
    (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(40_503) >> 7) as u8)
        .collect()
}

/// An action's status entries.
fn statuses(f: &Fixture, cid: &str, action: i64) -> Vec<Value> {
    let (s, v) = f.get(&format!(
        "/rest/v1/targets/{cid}/actions/{action}/status?limit=500"
    ));
    assert_eq!(s, 200, "{v}");
    v["content"].as_array().unwrap().clone()
}

/// A device with a target token and an action for a set holding `bytes`; (token, action, path).
fn device_with_update(f: &Fixture, cid: &str, bytes: &[u8]) -> (String, i64, String) {
    let token = f.create_target(cid);
    let (sm, ds) = f.distribution_set(&format!("{cid}-os"), "bundle.raucb", bytes);
    let action = f.assign(ds, cid, json!({}));
    let path = format!("/DEFAULT/controller/v1/{cid}/softwaremodules/{sm}/artifacts/bundle.raucb");
    (token, action, path)
}

fn ranges_write_no_status_rows_and_pass_the_dos_filter(f: &Fixture) {
    let bytes = bundle();
    let (token, action, path) = device_with_update(f, "swu1", &bytes);
    let before = statuses(f, "swu1", action).len();
    let get = |range: &str| {
        f.http
            .get(f.url(&path))
            .header("authorization", format!("TargetToken {token}"))
            .header("x-forwarded-for", CLIENT)
            .header("range", range)
            .send()
            .unwrap()
    };
    // More range requests than the action's 20 status entries and the client's 5 reads a second.
    for i in 0..60u64 {
        let r = get(&format!("bytes={}-{}", i * 1000, i * 1000 + 999));
        assert_eq!(r.status(), 206, "request {i}");
        let (a, b) = (i as usize * 1000, i as usize * 1000 + 1000);
        assert_eq!(r.bytes().unwrap().as_ref(), &bytes[a..b]);
    }
    // 300 ranges in one request, as SWUpdate's delta handler asks for chunks.
    let spec: Vec<String> = (0..300u64)
        .map(|i| format!("{}-{}", i * 9_000, i * 9_000 + 4_095))
        .collect();
    let r = get(&format!("bytes={}", spec.join(",")));
    assert_eq!(r.status(), 206);
    let declared: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let body = r.bytes().unwrap();
    assert_eq!(body.len(), declared);
    assert_eq!(body.windows(15).filter(|w| w == b"Content-Range: ").count(), 300);
    assert!(
        body.windows(4096)
            .any(|w| w == &bytes[299 * 9_000..299 * 9_000 + 4_096]),
        "the last range is in the body"
    );
    assert_eq!(
        statuses(f, "swu1", action).len(),
        before,
        "range requests logged status rows"
    );
    assert_eq!(f.action("swu1", action)["status"], "running");
    // A whole download is still logged, as hawkBit does.
    let whole = f
        .http
        .get(f.url(&path))
        .header("authorization", format!("TargetToken {token}"))
        .send()
        .unwrap();
    assert_eq!(whole.bytes().unwrap().len(), bytes.len());
    f.assert_download_logged("swu1");
}

/// What RAUC's streaming helper does: learn the size from a first small range, then read the
/// bundle in 128 KiB ranges (out of order: NBD reads the verity tree and the manifest at the end
/// first) over one keep-alive connection, authenticating each request with the target token.
fn a_rauc_streaming_client_reads_the_whole_bundle_in_ranges(f: &Fixture) {
    let bytes = bundle();
    let (token, action, path) = device_with_update(f, "rauc1", &bytes);
    f.feedback("rauc1", action, "proceeding", "none");
    let before = statuses(f, "rauc1", action).len();
    let client = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let get = |range: String| {
        let r = client
            .get(f.url(&path))
            .header("authorization", format!("TargetToken {token}"))
            .header("x-forwarded-for", CLIENT)
            .header("range", range)
            .send()
            .unwrap();
        assert_eq!(r.status(), 206);
        let total: usize = r.headers()["content-range"]
            .to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        (total, r.bytes().unwrap())
    };
    let (size, first) = get("bytes=0-4095".into());
    assert_eq!(size, bytes.len());
    let mut image = vec![0u8; size];
    image[..first.len()].copy_from_slice(&first);
    let blocks = size.div_ceil(BLOCK);
    // The tail first, then the rest in order.
    let order: Vec<usize> = std::iter::once(blocks - 1).chain(0..blocks - 1).collect();
    let mut requests = 1;
    for block in order {
        let start = block * BLOCK;
        let end = (start + BLOCK).min(size) - 1;
        let (_, chunk) = get(format!("bytes={start}-{end}"));
        image[start..=end].copy_from_slice(&chunk);
        requests += 1;
    }
    assert!(requests > 20, "{requests} requests");
    assert!(image == bytes, "the streamed bundle differs");
    let (s, _) = f.feedback("rauc1", action, "closed", "success");
    assert_eq!(s, 200);
    assert_eq!(f.action("rauc1", action)["status"], "finished");
    // Only the two feedbacks were recorded, none for the reads.
    assert_eq!(statuses(f, "rauc1", action).len(), before + 1);
}

/// A `Range` header does not hide a flood of refused requests: failures count, and once over
/// its limit the client is refused ranges too.
fn failed_range_requests_still_count(f: &Fixture) {
    let (_, _, path) = device_with_update(f, "bad1", b"bundle");
    // Refused requests go on until the filter steps in (at the sixth within one second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let status = f
            .http
            .get(f.url(&path))
            .header("authorization", "TargetToken wrong-token")
            .header("x-forwarded-for", "198.51.100.99")
            .header("range", "bytes=0-1")
            .send()
            .unwrap()
            .status()
            .as_u16();
        seen.push(status);
        if status == 429 {
            break;
        }
        assert_eq!(status, 401, "{seen:?}");
        assert!(std::time::Instant::now() < deadline, "never limited: {seen:?}");
    }
    let (s, _) = read(f.ddi(Method::GET, "bad1", "").send().unwrap());
    assert_eq!(s, 200, "other clients are not affected");
}
