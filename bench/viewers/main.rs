//! Viewer load: many learners watching one encrypted HLS video at once, as
//! players do it, against one `sealcast serve` process on this machine.
//!
//! Setup: a fresh data dir and a release server with a transcode worker; a
//! test clip made by the ffmpeg CLI, uploaded with tus by a creator and
//! transcoded by the server (ladder 360p/240p, 6 s segments, a new content
//! key every `--rotate-every` segments); `--viewers` learners enrolled in
//! the course (one account per viewer: key pacing is per user and video).
//!
//! Each viewer (one tokio task, its own keep-alive connection): logs in once
//! (at most `--login-concurrency` logins in flight: the server bounds argon2
//! hashing), starts a playback session, fetches the master playlist and one
//! rung's variant playlist, then walks the segments like a player: the first
//! `--buffer` segments at once, then each one when the playhead is `--buffer`
//! segments' worth of media behind it, the playhead moving at `--speed` × real
//! time; the key whenever the `#EXT-X-KEY` changes (Bearer token); the other
//! rung every `--switch-every` segments (its variant playlist, then on at the
//! same media position); the video again from the start when it ends. A
//! segment arriving after the playhead reached it is a stall (the playhead
//! then waits for it): a viewer with a stall in the measured window "fell
//! behind".
//!
//! Viewers start spread over `--ramp` seconds; once every viewer is playing,
//! the steady window of `--seconds` is measured: per request type count,
//! errors, p50 and p99 (segments to the last byte, and to the response
//! headers), the server's CPU (utime + stime from /proc, % of one core) and
//! memory (VmRSS at the window's start and end, VmHWM: the peak of the whole
//! run, logins and transcode included), and this client's own CPU (the two
//! share the machine's cores). `--soak` is `--seconds 600` and reports the RSS
//! growth from minute 1 of the window to its end.
//!
//! ```text
//! cargo build --release --bin sealcast
//! cargo run --release --example viewers_bench -- [--viewers 2000] [--seconds 60] [--speed 2] [--ramp 20] [--soak]
//! ```
//!
//! `SEALCAST_BIN` picks another binary; `--shared-pool` makes the viewers share
//! one connection pool (as many connections as requests in flight) instead
//! of one connection each.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{arg, record, Better};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Client, RequestBuilder, Url};
use sealcast::db::Db;
use sealcast::identity::{create_course, create_user, Role};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::time::{sleep, sleep_until, Instant};

const PASSWORD: &str = "bench password 1";
/// Linux reports /proc CPU times in USER_HZ, 100 on every architecture we run.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Clone, Copy)]
enum Kind {
    Login,
    Playback,
    Master,
    Variant,
    Key,
    Segment,
    SegmentHeaders,
}
const KINDS: [&str; 7] = [
    "login",
    "playback",
    "master",
    "variant",
    "key",
    "segment",
    "segment (headers)",
];

/// What one phase (start-up, or the steady window) measured.
#[derive(Default)]
struct Bucket {
    /// Latencies of the successful requests, µs.
    lat_us: [Mutex<Vec<u32>>; 7],
    errors: [AtomicU64; 7],
    segment_bytes: AtomicU64,
    stalls: AtomicU64,
}

struct Run {
    t0: Instant,
    /// Start and end of the steady window, ms after `t0` (`u64::MAX` until known).
    start_ms: AtomicU64,
    end_ms: AtomicU64,
    /// 0: start-up (logins, the ramp), 1: the steady window.
    buckets: [Bucket; 2],
    /// "kind: status code" of the failures, and how many.
    reasons: Mutex<BTreeMap<String, u64>>,
    playing: AtomicU64,
    gave_up: AtomicU64,
    fell_behind: AtomicU64,
    logins: Semaphore,
    base: Url,
    video: String,
    speed: f64,
    buffer: usize,
    switch_every: usize,
}

impl Run {
    fn bucket(&self, at: Instant) -> Option<&Bucket> {
        let ms = at.saturating_duration_since(self.t0).as_millis() as u64;
        if ms < self.start_ms.load(Relaxed) {
            Some(&self.buckets[0])
        } else if ms < self.end_ms.load(Relaxed) {
            Some(&self.buckets[1])
        } else {
            None
        }
    }

    fn ok(&self, kind: Kind, at: Instant, took: Duration) {
        if let Some(b) = self.bucket(at) {
            let us = took.as_micros().min(u128::from(u32::MAX)) as u32;
            b.lat_us[kind as usize].lock().unwrap().push(us);
        }
    }

    fn fail(&self, kind: Kind, at: Instant, why: String) {
        if let Some(b) = self.bucket(at) {
            b.errors[kind as usize].fetch_add(1, Relaxed);
            let reason = format!("{}: {why}", KINDS[kind as usize]);
            *self.reasons.lock().unwrap().entry(reason).or_default() += 1;
        }
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }
}

fn transport(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() {
        "body"
    } else {
        "request"
    };
    format!("transport error ({what})")
}

/// `STATUS code` of an error answer (`{"error":{"code"}}`).
fn status_reason(status: reqwest::StatusCode, body: &[u8]) -> String {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{} {code}", status.as_u16())
}

/// Sends `req`; the body of a 2xx answer, or `None` with the failure recorded.
async fn call(run: &Run, kind: Kind, req: RequestBuilder) -> Option<Bytes> {
    let at = Instant::now();
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            run.fail(kind, at, transport(&e));
            return None;
        }
    };
    let status = resp.status();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            run.fail(kind, at, transport(&e));
            return None;
        }
    };
    if !status.is_success() {
        run.fail(kind, at, status_reason(status, &body));
        return None;
    }
    run.ok(kind, at, at.elapsed());
    Some(body)
}

/// Downloads a segment (body read and dropped chunk by chunk); whether it came.
async fn segment(run: &Run, client: &Client, url: &str) -> bool {
    let at = Instant::now();
    let mut resp = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => {
            run.fail(Kind::Segment, at, transport(&e));
            return false;
        }
    };
    let headers = at.elapsed();
    let status = resp.status();
    if !status.is_success() {
        let body = resp.bytes().await.unwrap_or_default();
        run.fail(Kind::Segment, at, status_reason(status, &body));
        return false;
    }
    let mut bytes = 0u64;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => bytes += chunk.len() as u64,
            Ok(None) => break,
            Err(e) => {
                run.fail(Kind::Segment, at, transport(&e));
                return false;
            }
        }
    }
    run.ok(Kind::Segment, at, at.elapsed());
    run.ok(Kind::SegmentHeaders, at, headers);
    if let Some(b) = run.bucket(at) {
        b.segment_bytes.fetch_add(bytes, Relaxed);
    }
    true
}

struct Seg {
    url: String,
    start: f64,
    /// Index into [`Variant::keys`].
    key: Option<usize>,
}

/// One rung's media playlist, its URIs resolved as a player resolves them.
struct Variant {
    segs: Vec<Seg>,
    keys: Vec<String>,
    total: f64,
}

fn parse_variant(url: &Url, body: &[u8]) -> Option<Variant> {
    let playlist = m3u8_rs::parse_media_playlist_res(body).ok()?;
    let (mut segs, mut keys) = (Vec::new(), Vec::<String>::new());
    let (mut start, mut key) = (0.0, None);
    for s in &playlist.segments {
        if let Some(k) = &s.key {
            key = match &k.uri {
                Some(uri) => {
                    keys.push(url.join(uri).ok()?.to_string());
                    Some(keys.len() - 1)
                }
                None => None,
            };
        }
        segs.push(Seg {
            url: url.join(&s.uri).ok()?.to_string(),
            start,
            key,
        });
        start += f64::from(s.duration);
    }
    (!segs.is_empty()).then_some(Variant {
        segs,
        keys,
        total: start,
    })
}

async fn load_variant(run: &Run, client: &Client, url: &Url) -> Option<Variant> {
    let body = call(run, Kind::Variant, client.get(url.clone())).await?;
    let parsed = parse_variant(url, &body);
    if parsed.is_none() {
        run.fail(Kind::Variant, Instant::now(), "not a media playlist".into());
    }
    parsed
}

/// Login, session, master: the rungs' playlist URLs (highest bandwidth first)
/// and the Bearer header.
async fn start_playback(
    run: &Run,
    client: &Client,
    email: &str,
) -> Option<(Vec<Url>, HeaderValue)> {
    let login = {
        let _permit = run.logins.acquire().await.unwrap();
        let req = client
            .post(run.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}));
        call(run, Kind::Login, req).await?
    };
    let token: Value = serde_json::from_slice(&login).ok()?;
    let auth =
        HeaderValue::from_str(&format!("Bearer {}", token["access_token"].as_str()?)).ok()?;
    let path = format!("/api/v1/videos/{}/playback", run.video);
    let req = client
        .post(run.url(&path))
        .header(AUTHORIZATION, auth.clone());
    let session: Value = serde_json::from_slice(&call(run, Kind::Playback, req).await?).ok()?;
    let master_url = run.base.join(session["master_url"].as_str()?).ok()?;
    let body = call(run, Kind::Master, client.get(master_url.clone())).await?;
    let Ok(master) = m3u8_rs::parse_master_playlist_res(&body) else {
        run.fail(Kind::Master, Instant::now(), "not a master playlist".into());
        return None;
    };
    let mut variants: Vec<_> = master.variants.iter().filter(|v| !v.is_i_frame).collect();
    variants.sort_by_key(|v| std::cmp::Reverse(v.bandwidth));
    let rungs: Option<Vec<Url>> = variants
        .iter()
        .map(|v| master_url.join(&v.uri).ok())
        .collect();
    Some((rungs?, auth)).filter(|(r, _)| !r.is_empty())
}

async fn viewer(run: Arc<Run>, client: Client, n: usize, start_at: Instant) {
    sleep_until(start_at).await;
    let email = format!("viewer{n}@bench.test");
    let Some((rungs, auth)) = start_playback(&run, &client, &email).await else {
        run.gave_up.fetch_add(1, Relaxed);
        return;
    };
    let mut rung = n % rungs.len();
    let Some(mut variant) = load_variant(&run, &client, &rungs[rung]).await else {
        run.gave_up.fetch_add(1, Relaxed);
        return;
    };
    let speed = run.speed;
    let ahead = variant
        .segs
        .get(run.buffer)
        .map_or(variant.total, |s| s.start);
    let secs = |media: f64| Duration::from_secs_f64(media.max(0.0) / speed);
    let (mut idx, mut loop_base, mut buffered, mut since_switch) = (0, 0.0, 0, 0);
    let mut key_now: Option<String> = None;
    let mut play_start: Option<Instant> = None;
    let mut stalled = false;
    loop {
        if idx >= variant.segs.len() {
            idx = 0;
            loop_base += variant.total;
        }
        let seg = &variant.segs[idx];
        let media = loop_base + seg.start;
        if let Some(p) = play_start {
            sleep_until(p + secs(media - ahead)).await;
        }
        if let Some(k) = seg.key {
            let key_url = &variant.keys[k];
            if key_now.as_deref() != Some(key_url.as_str()) {
                let req = client.get(key_url).header(AUTHORIZATION, auth.clone());
                match call(&run, Kind::Key, req).await {
                    Some(key) if key.len() == 16 => key_now = Some(key_url.clone()),
                    Some(_) => {
                        run.fail(Kind::Key, Instant::now(), "not 16 bytes".into());
                        sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    None => {
                        sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
        }
        if !segment(&run, &client, &seg.url).await {
            sleep(Duration::from_secs(1)).await;
            continue;
        }
        let arrived = Instant::now();
        match play_start {
            None => {
                buffered += 1;
                if buffered >= run.buffer {
                    play_start = Some(arrived);
                    run.playing.fetch_add(1, Relaxed);
                }
            }
            Some(p) => {
                let deadline = p + secs(media);
                if arrived > deadline {
                    // The playhead waited for this segment: a stall.
                    play_start = Some(p + (arrived - deadline));
                    if let Some(b) = run.bucket(arrived) {
                        if std::ptr::eq(b, &run.buckets[1]) {
                            b.stalls.fetch_add(1, Relaxed);
                            if !stalled {
                                stalled = true;
                                run.fell_behind.fetch_add(1, Relaxed);
                            }
                        }
                    }
                }
            }
        }
        idx += 1;
        since_switch += 1;
        if rungs.len() > 1 && since_switch >= run.switch_every {
            since_switch = 0;
            let position = variant.segs.get(idx).map_or(variant.total, |s| s.start);
            let next = (rung + 1) % rungs.len();
            if let Some(v) = load_variant(&run, &client, &rungs[next]).await {
                idx = v
                    .segs
                    .iter()
                    .position(|s| s.start + 1e-3 >= position)
                    .unwrap_or(v.segs.len());
                variant = v;
                rung = next;
            }
        }
    }
}

/// One reading of a process's /proc figures.
#[derive(Clone, Copy, Default)]
struct Proc {
    at: Option<Instant>,
    ticks: u64,
    rss_kb: u64,
    hwm_kb: u64,
}

fn read_proc(pid: &str) -> Proc {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis start at field 3 (state).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Proc {
        at: Some(Instant::now()),
        ticks: field(11) + field(12),
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
    }
}

/// % of one core between two readings.
fn cpu(a: &Proc, b: &Proc) -> f64 {
    let secs = (b.at.unwrap() - a.at.unwrap()).as_secs_f64();
    (b.ticks - a.ticks) as f64 / TICKS_PER_SEC / secs * 100.0
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn arg_f64(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Uploads `bytes` with tus as `token` into `course`, waits until the
/// server has transcoded it; the video id.
async fn upload_ready(
    http: &Client,
    base: &str,
    token: &str,
    course: &str,
    bytes: Vec<u8>,
) -> String {
    let id = common::tus_upload(http, base, token, course, bytes).await;
    common::all_ready(http, base, token, std::slice::from_ref(&id)).await;
    id
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    f64::from(sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]) / 1000.0
}

/// Prints one phase's table; (requests, errors, segments, segment p99 ms).
fn table(name: &str, b: &Bucket, secs: f64) -> (u64, u64, usize, f64) {
    println!(
        "{name:<9} {:<18} {:>8} {:>7} {:>9} {:>9} {:>8}",
        "request", "count", "errors", "p50 ms", "p99 ms", "per s"
    );
    let (mut total, mut errors, mut segments, mut segment_p99) = (0, 0, 0, f64::NAN);
    for (i, kind) in KINDS.iter().enumerate() {
        let mut lat = std::mem::take(&mut *b.lat_us[i].lock().unwrap());
        lat.sort_unstable();
        let e = b.errors[i].load(Relaxed);
        if i != Kind::SegmentHeaders as usize {
            total += lat.len() as u64 + e;
            errors += e;
        }
        if i == Kind::Segment as usize {
            segments = lat.len();
            segment_p99 = percentile(&lat, 0.99);
        }
        if lat.is_empty() && e == 0 {
            continue;
        }
        println!(
            "{:<9} {kind:<18} {:>8} {e:>7} {:>9.2} {:>9.2} {:>8.1}",
            "",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.len() as f64 / secs
        );
    }
    (total, errors, segments, segment_p99)
}

#[tokio::main]
async fn main() {
    let soak = flag("--soak");
    let n = arg("--viewers", 2000) as usize;
    let seconds = arg("--seconds", if soak { 600 } else { 60 });
    let speed = arg_f64("--speed", 2.0);
    let ramp = arg("--ramp", 20);
    let buffer = arg("--buffer", 3).max(1) as usize;
    let switch_every = arg("--switch-every", 8).max(1) as usize;
    let rotate_every = arg("--rotate-every", 5);
    let clip_seconds = arg("--clip-seconds", 120);
    let login_concurrency = arg("--login-concurrency", 4).max(1) as usize;
    let shared_pool = flag("--shared-pool");
    // Sockets: one per viewer here, as many in the server.
    let _ = rlimit::increase_nofile_limit(u64::MAX);

    let bin = common::binary();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_arg = data.display().to_string();
    let rotate = rotate_every.to_string();
    let pacing = (speed.ceil() as u64).max(2).to_string();
    let max_conns = (n + 1024).max(4096).to_string();
    let (server, base) = common::start(
        &bin,
        &[
            "--data-dir",
            &data_arg,
            "--workers",
            "1",
            "--transcode-rungs",
            "360,240",
            "--rotate-every",
            &rotate,
            // Every login comes from 127.0.0.1.
            "--login-attempts-per-ip",
            "100000",
            "--key-pacing-speedup",
            &pacing,
            "--max-connections",
            &max_conns,
        ],
        &[],
    );
    let pid = server.pid().to_string();

    let setup = Instant::now();
    let clip = tmp.path().join("clip.mp4");
    common::make_clip(&clip, clip_seconds, 24);
    let db = Db::connect(&format!("sqlite://{}", data.join("sealcast.db").display()))
        .await
        .unwrap();
    let creator = create_user(&db, "creator@bench.test", PASSWORD, Role::Creator)
        .await
        .unwrap();
    let course = create_course(&db, &creator.id, "Viewers bench")
        .await
        .unwrap();
    let http = Client::new();
    let creator_token = common::login(&http, &base, "creator@bench.test", PASSWORD).await;
    let (video, ()) = tokio::join!(
        upload_ready(
            &http,
            &base,
            &creator_token,
            &course.id,
            std::fs::read(&clip).unwrap()
        ),
        common::learners(&db, &course.id, "viewer", n, PASSWORD),
    );
    println!(
        "setup: {clip_seconds} s clip transcoded (360p/240p, 6 s segments, key every {rotate_every} segments), {n} learners, {:.0} s",
        setup.elapsed().as_secs_f64()
    );

    let t0 = Instant::now();
    let run = Arc::new(Run {
        t0,
        start_ms: AtomicU64::new(u64::MAX),
        end_ms: AtomicU64::new(u64::MAX),
        buckets: Default::default(),
        reasons: Mutex::default(),
        playing: AtomicU64::new(0),
        gave_up: AtomicU64::new(0),
        fell_behind: AtomicU64::new(0),
        logins: Semaphore::new(login_concurrency),
        base: Url::parse(&base).unwrap(),
        video,
        speed,
        buffer,
        switch_every,
    });
    let client = |idle: usize| {
        Client::builder()
            .pool_max_idle_per_host(idle)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    };
    let shared = client(n);
    let before = read_proc(&pid);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let at = t0 + Duration::from_secs_f64(ramp as f64 * i as f64 / n as f64);
            let c = if shared_pool {
                shared.clone()
            } else {
                client(1)
            };
            tokio::spawn(viewer(run.clone(), c, i, at))
        })
        .collect();
    let give_up_at = t0 + Duration::from_secs(ramp + 600);
    loop {
        let started = run.playing.load(Relaxed) + run.gave_up.load(Relaxed);
        if started >= n as u64 || Instant::now() > give_up_at {
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    let me = std::process::id().to_string();
    let start = read_proc(&pid);
    let me_start = read_proc(&me);
    let startup_secs = t0.elapsed().as_secs_f64();
    run.start_ms.store(t0.elapsed().as_millis() as u64, Relaxed);
    println!(
        "start-up: {:.1} s; playing {} of {n} viewers (gave up: {}); server CPU {:.0}% of one core, RSS {:.0} MB, peak {:.0} MB",
        startup_secs,
        run.playing.load(Relaxed),
        run.gave_up.load(Relaxed),
        cpu(&before, &start),
        mb(start.rss_kb),
        mb(start.hwm_kb),
    );
    let mut minute_one = None;
    let mut last = start;
    for minute in 1..=seconds.div_ceil(60) {
        let left = seconds - (minute - 1) * 60;
        sleep(Duration::from_secs(left.min(60))).await;
        let now = read_proc(&pid);
        println!(
            "  {:>4} s: server CPU {:>4.0}%, RSS {:>5.0} MB, peak {:>5.0} MB; {} viewers fell behind so far",
            (minute - 1) * 60 + left.min(60),
            cpu(&last, &now),
            mb(now.rss_kb),
            mb(now.hwm_kb),
            run.fell_behind.load(Relaxed)
        );
        if minute == 1 {
            minute_one = Some(now);
        }
        last = now;
    }
    run.end_ms.store(t0.elapsed().as_millis() as u64, Relaxed);
    let end = last;
    let me_end = read_proc(&me);
    for t in tasks {
        t.abort();
    }

    let window = (end.at.unwrap() - start.at.unwrap()).as_secs_f64();
    println!(
        "\n{n} viewers at {speed}x real time ({}), ramp {ramp} s, steady window {seconds} s, binary {}",
        if shared_pool {
            "one shared connection pool"
        } else {
            "one connection each"
        },
        bin.display()
    );
    let (startup_requests, startup_errors, ..) = table("start-up", &run.buckets[0], startup_secs);
    println!();
    let (requests, errors, segments, segment_p99) = table("steady", &run.buckets[1], window);
    let steady = &run.buckets[1];
    let bytes = steady.segment_bytes.load(Relaxed) as f64;
    let server_cpu = cpu(&start, &end);
    println!(
        "segments: {:.0} KB average, {:.0} MB/s",
        bytes / 1024.0 / segments.max(1) as f64,
        bytes / 1048576.0 / window
    );
    println!(
        "viewers that fell behind (a stall in the window): {} of {n}, {} stalls",
        run.fell_behind.load(Relaxed),
        steady.stalls.load(Relaxed)
    );
    println!(
        "server CPU: {server_cpu:.0}% of one core (2 cores = 200%); this client: {:.0}%",
        cpu(&me_start, &me_end)
    );
    println!(
        "server RSS: {:.0} MB at the window's start, {:.0} MB at its end; peak (VmHWM, logins and transcode included) {:.0} MB; client peak {:.0} MB",
        mb(start.rss_kb),
        mb(end.rss_kb),
        mb(end.hwm_kb),
        mb(me_end.hwm_kb)
    );
    let reasons = run.reasons.lock().unwrap();
    if !reasons.is_empty() {
        println!("errors:");
        for (why, count) in reasons.iter() {
            println!("  {count:>7}  {why}");
        }
    }
    let all_errors = errors + startup_errors;
    println!(
        "goals: 0 errors ({all_errors}), segment p99 <= 10 ms ({segment_p99:.2}), peak RSS <= 256 MB ({:.0})",
        mb(end.hwm_kb)
    );
    if let Some(one) = minute_one.filter(|_| soak) {
        let growth = (end.rss_kb as f64 / one.rss_kb as f64 - 1.0) * 100.0;
        println!(
            "soak: RSS {:.0} MB at minute 1, {:.0} MB at the end: {growth:+.1}% (target within 10%)",
            mb(one.rss_kb),
            mb(end.rss_kb)
        );
        record(
            "viewers",
            &format!("server RSS at the end of a {seconds} s soak, {n} viewers"),
            "MB",
            mb(end.rss_kb),
            ("its RSS at minute 1", mb(one.rss_kb)),
            Better::Lower,
            Some(1.1),
        );
    }
    record(
        "viewers",
        &format!("segment p99 (to last byte), {n} viewers at {speed}x"),
        "ms",
        segment_p99,
        ("goal", 10.0),
        Better::Lower,
        Some(1.0),
    );
    record(
        "viewers",
        &format!("server peak RSS, {n} viewers and their logins"),
        "MB",
        mb(end.hwm_kb),
        ("goal", 256.0),
        Better::Lower,
        Some(1.0),
    );
    let requests = requests + startup_requests;
    record(
        "viewers",
        &format!("requests without error, {n} viewers"),
        "%",
        100.0 * (1.0 - all_errors as f64 / requests.max(1) as f64),
        ("goal", 100.0),
        Better::Higher,
        Some(1.0),
    );
    record(
        "viewers",
        &format!("server CPU, {n} viewers at {speed}x"),
        "% of one core",
        server_cpu,
        ("one core", 100.0),
        Better::Lower,
        None,
    );
}
