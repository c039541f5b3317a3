//! Prometheus's text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then one
//! `name{label="value"} number` line per sample. Written by hand: a dozen families with fixed
//! names and labels that need no escaping, where the `prometheus-client` crate would bring its
//! registry, encoders and their dependencies for the same lines.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::UNIX_EPOCH;

use super::{Handled, Metrics, Scripts, BUCKETS, CLASSES};

/// The page: every family, each with its help and type lines.
pub(super) fn render(m: &Metrics) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "serveur_requests_total",
        "counter",
        "Requests answered, by status class and by the handler that answered.",
    );
    for handled in Handled::ALL {
        for (class, count) in CLASSES.iter().zip(&m.requests[handled as usize]) {
            // Only the pairs seen so far: most of the 42 never occur.
            let count = count.load(Relaxed);
            if count > 0 {
                let label = handled.label();
                let _ = writeln!(
                    out,
                    "serveur_requests_total{{code=\"{class}\",handler=\"{label}\"}} {count}"
                );
            }
        }
    }
    counter(
        &mut out,
        "serveur_response_bytes_total",
        "Response body bytes sent.",
        &m.response_bytes,
    );
    durations(&mut out, m);
    gauge(
        &mut out,
        "serveur_connections_open",
        "Connections open now.",
        m.connections_open.load(Relaxed),
    );
    counter(
        &mut out,
        "serveur_connections_total",
        "Connections accepted.",
        &m.connections,
    );
    scripts(&mut out, "cgi", "CGI scripts", &m.cgi);
    scripts(&mut out, "fastcgi", "FastCGI requests", &m.fastcgi);
    counter(
        &mut out,
        "serveur_small_file_cache_hits_total",
        "Small files and compressed outputs sent from memory.",
        &m.cache_hits,
    );
    counter(
        &mut out,
        "serveur_small_file_cache_misses_total",
        "Small files and compressed outputs looked for in memory and read or made again.",
        &m.cache_misses,
    );
    counter(
        &mut out,
        "serveur_listing_cache_hits_total",
        "Rich pages and JSON listings sent from memory, their directory unchanged.",
        &m.listing_hits,
    );
    counter(
        &mut out,
        "serveur_listing_cache_misses_total",
        "Rich pages and JSON listings rendered (new, changed, or not kept).",
        &m.listing_misses,
    );
    let started = m
        .started
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    gauge(
        &mut out,
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds.",
        started,
    );
    family(
        &mut out,
        "serveur_build_info",
        "gauge",
        "The serveur version answering, as a label; always 1.",
    );
    let _ = writeln!(
        out,
        "serveur_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    family(out, name, "counter", help);
    let _ = writeln!(out, "{name} {}", value.load(Relaxed));
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

fn scripts(out: &mut String, prefix: &str, what: &str, scripts: &Scripts) {
    gauge(
        out,
        &format!("serveur_{prefix}_in_flight"),
        &format!("{what} running now (until their response body ends)."),
        scripts.in_flight.load(Relaxed),
    );
    counter(
        out,
        &format!("serveur_{prefix}_failures_total"),
        &format!("{what} answered with 502 or 504 by the gateway (failed, timed out, unusable)."),
        &scripts.failures,
    );
}

/// The histogram: cumulative buckets, `+Inf` last, then the sum and the count.
fn durations(out: &mut String, m: &Metrics) {
    let name = "serveur_request_duration_seconds";
    family(
        out,
        name,
        "histogram",
        "Time from a request's head read to its response body's end.",
    );
    let mut seen = 0;
    let bounds = BUCKETS
        .iter()
        .map(|&micros| (micros as f64 / 1e6).to_string());
    for (bound, count) in bounds.chain(["+Inf".into()]).zip(&m.durations) {
        seen += count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {seen}");
    }
    let sum = m.duration_micros.load(Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {seen}");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::{Gateway, Handled, Metrics};

    fn value<'a>(page: &'a str, sample: &str) -> Option<&'a str> {
        page.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
    }

    #[test]
    fn a_fresh_page_has_every_family_at_zero_and_no_request_series() {
        let page = Metrics::new().render();
        assert!(!page.contains("serveur_requests_total{"), "{page}");
        for sample in [
            "serveur_response_bytes_total",
            "serveur_connections_open",
            "serveur_cgi_in_flight",
            "serveur_fastcgi_failures_total",
            "serveur_small_file_cache_misses_total",
            "serveur_listing_cache_hits_total",
            "serveur_request_duration_seconds_count",
            "serveur_request_duration_seconds_bucket{le=\"+Inf\"}",
        ] {
            assert_eq!(value(&page, sample), Some("0"), "{sample} in {page}");
        }
        assert_eq!(
            value(&page, "serveur_build_info{version=\"0.1.0\"}"),
            Some("1")
        );
        assert!(page.ends_with('\n'));
    }

    #[test]
    fn requests_are_counted_by_handler_and_class_and_durations_cumulate() {
        let m = Metrics::new();
        m.answered(Handled::Static, 200, 10, Duration::from_micros(500));
        m.answered(Handled::Static, 206, 5, Duration::from_millis(50));
        m.answered(Handled::Cgi, 502, 0, Duration::from_secs(2));
        m.answered(Handled::Server, 999, 0, Duration::from_secs(100));
        let page = m.render();
        let sample = |s: &str| value(&page, s).map(str::to_owned);
        assert_eq!(
            sample("serveur_requests_total{code=\"2xx\",handler=\"static\"}"),
            Some("2".into())
        );
        assert_eq!(
            sample("serveur_requests_total{code=\"5xx\",handler=\"cgi\"}"),
            Some("1".into())
        );
        assert_eq!(
            sample("serveur_requests_total{code=\"other\",handler=\"server\"}"),
            Some("1".into())
        );
        assert_eq!(sample("serveur_response_bytes_total"), Some("15".into()));
        let bucket = |le: &str| {
            let name = format!("serveur_request_duration_seconds_bucket{{le=\"{le}\"}}");
            sample(&name)
        };
        assert_eq!(bucket("0.001"), Some("1".into()));
        assert_eq!(bucket("0.01"), Some("1".into()));
        assert_eq!(bucket("0.1"), Some("2".into()));
        assert_eq!(bucket("10"), Some("3".into()));
        assert_eq!(bucket("60"), Some("3".into()));
        assert_eq!(bucket("+Inf"), Some("4".into()));
        assert_eq!(
            sample("serveur_request_duration_seconds_count"),
            Some("4".into())
        );
        assert_eq!(
            sample("serveur_request_duration_seconds_sum"),
            Some("102.0505".into())
        );
    }

    #[test]
    fn guards_count_while_they_live() {
        let m = Arc::new(Metrics::new());
        let connection = m.connection_opened();
        let script = m.script_started(Gateway::FastCgi);
        m.script_failed(Gateway::FastCgi);
        m.cache_lookup(true);
        let page = m.render();
        assert_eq!(value(&page, "serveur_connections_open"), Some("1"));
        assert_eq!(value(&page, "serveur_fastcgi_in_flight"), Some("1"));
        assert_eq!(value(&page, "serveur_fastcgi_failures_total"), Some("1"));
        assert_eq!(value(&page, "serveur_cgi_in_flight"), Some("0"));
        assert_eq!(
            value(&page, "serveur_small_file_cache_hits_total"),
            Some("1")
        );
        drop((connection, script));
        let page = m.render();
        assert_eq!(value(&page, "serveur_connections_open"), Some("0"));
        assert_eq!(value(&page, "serveur_connections_total"), Some("1"));
        assert_eq!(value(&page, "serveur_fastcgi_in_flight"), Some("0"));
    }
}
