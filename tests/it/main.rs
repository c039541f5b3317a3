//! serveur's integration tests, as one test binary (ripgrep's layout): one module per topic,
//! sharing [`support`] (the real `serveur` binary started on port 0, clients, fixtures) and
//! [`fastcgi_apps`] (real FastCGI applications). One binary links the crate and compiles the
//! helpers once, rather than once per topic. Run one topic with `cargo test --test it TOPIC::`.

mod fastcgi_apps;
mod support;

mod accept_backoff;
mod access_log;
mod archive;
mod archive_cut;
mod auth;
mod browser;
mod cgi;
mod cgi_examples;
mod cgi_lifecycle;
mod cgi_paths;
mod cli;
mod client_left;
mod config_file;
mod connection;
mod downloads;
mod downloads_encoding;
mod downloads_headers;
mod examples;
mod fastcgi;
mod fastcgi_capacity;
mod fastcgi_resilience;
mod floods;
mod http2;
mod library;
mod listening;
mod listing;
mod listing_cache;
mod log_formats;
mod malformed;
mod metrics;
mod network;
mod over_tls_and_h2;
mod python_compat;
mod python_differences;
mod redbot;
mod redirects;
mod request_admission;
mod rest;
mod safe_path_cpython;
mod shell_help;
mod slow_clients;
mod smoke;
mod startup_addresses;
mod static_files;
mod symlinks;
mod tls;
mod tls_flags;
mod ui;
mod unix_socket;
mod upload;
mod zero_copy;
