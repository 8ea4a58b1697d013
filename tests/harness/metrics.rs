//! Reading a server's metrics endpoint: plain HTTP GETs, the text exposition parsed into
//! samples, `promtool check metrics`, and a real Prometheus server that scrapes it.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a condition on metrics may take to hold.
pub const METRICS_DEADLINE: Duration = Duration::from_secs(30);

/// An HTTP response: status code, headers (lowercase names) and body.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `addr` over HTTP/1.1, with extra request headers.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&String::from_utf8_lossy(&raw))
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))
}

fn parse_response(raw: &str) -> Option<HttpResponse> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

/// One scrape of `/metrics`, in Prometheus' text format.
#[derive(Debug)]
pub struct Scrape {
    /// The exposition as served.
    pub text: String,
}

impl Scrape {
    /// Scrapes `addr`'s `/metrics` (Prometheus' text format, as a plain scraper asks).
    pub fn of(addr: SocketAddr) -> Self {
        let response = http_get(addr, "/metrics", &[]).expect("/metrics answers");
        assert_eq!(response.status, 200, "{}", response.body);
        Self {
            text: response.body,
        }
    }

    /// The value of the sample `name` whose labels include every one of `labels`; `None`
    /// when there is none. Panics when several match: a test names the one it means.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(parse_sample)
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, value)| value)
            .collect();
        assert!(
            matching.len() <= 1,
            "{name}{labels:?} matches {} samples",
            matching.len()
        );
        matching.first().copied()
    }

    /// [`Scrape::value`], which must exist.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.text))
    }
}

type Sample = (String, Vec<(String, String)>, f64);

/// Parses `name{a="x",b="y"} value` (label values without quotes or commas, as ours are).
fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let labels = rest
                .trim_end_matches('}')
                .split("\",")
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            (name, labels)
        }
    };
    Some((name.to_owned(), labels, value))
}

/// Waits until `condition` holds on a fresh scrape of `addr`, or panics with the last scrape.
pub async fn wait_for_scrape(
    addr: SocketAddr,
    what: &str,
    condition: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = Instant::now() + METRICS_DEADLINE;
    loop {
        let scrape = Scrape::of(addr);
        if condition(&scrape) {
            return scrape;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {METRICS_DEADLINE:?}:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path of a binary of Debian's `prometheus` package (`tests/run` installs it).
fn prometheus_tool(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install Debian's prometheus package (./tests/run does)",
        path.display()
    );
    path
}

/// Runs `promtool check metrics` on `exposition`; returns its combined output on failure.
pub fn promtool_check(exposition: &str) -> Result<(), String> {
    let mut child = Command::new(prometheus_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(exposition.as_bytes())
        .expect("promtool reads its input");
    let output = child.wait_with_output().expect("promtool runs");
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// A Prometheus server on loopback that scrapes one target every second.
#[derive(Debug)]
pub struct PrometheusServer {
    child: Child,
    /// Its HTTP API's address.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// Starts Prometheus with its storage in a temporary directory, scraping `target`'s
    /// `/metrics` every second, and waits until it is ready.
    pub async fn start(target: SocketAddr) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
                 - job_name: hostendpointd\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("the config is written");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(prometheus_tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let server = Self {
            child,
            addr,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + METRICS_DEADLINE;
        while !http_get(self.addr, "/-/ready", &[]).is_ok_and(|r| r.status == 200) {
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {METRICS_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the instant vector `expr` satisfies `condition`, or panics with the last
    /// answer.
    pub async fn wait_for(
        &self,
        expr: &str,
        condition: impl Fn(&[(serde_json::Value, f64)]) -> bool,
    ) -> Vec<(serde_json::Value, f64)> {
        let deadline = Instant::now() + METRICS_DEADLINE;
        loop {
            let result = self.query(expr);
            if condition(&result) {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "{expr} is still {result:?} after {METRICS_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The instant vector `expr` evaluates to now: each result's labels and value.
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let path = format!("/api/v1/query?query={}", percent_encode(expr));
        let response = http_get(self.addr, &path, &[]).expect("the query API answers");
        let json: serde_json::Value = serde_json::from_str(&response.body).expect("a JSON answer");
        assert_eq!(json["status"], "success", "{json}");
        json["data"]["result"]
            .as_array()
            .expect("a vector result")
            .iter()
            .map(|sample| {
                let value = sample["value"][1].as_str().and_then(|v| v.parse().ok());
                (sample["metric"].clone(), value.expect("a numeric value"))
            })
            .collect()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
