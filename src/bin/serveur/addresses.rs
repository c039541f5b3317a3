//! `--qr`: what the start-up prints after CPython's line (which stays first and unchanged):
//! every URL the server can be reached at, then a QR code of the first, so that a phone in the
//! same room opens the share by pointing its camera at the terminal.
//!
//! Bound to every interface, the URLs are each interface's addresses (IPv4 only when the
//! socket is IPv4 only), the LAN ones first: private IPv4, other IPv4, IPv6, loopback last.
//! IPv6 link-local addresses (`fe80::/10`) are never printed: they need a zone (`%eth0`),
//! which browsers refuse in a URL (the WHATWG URL standard has no zone IDs), so no one could
//! open them. Bound to one address, that address is the only URL.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;

/// The lines printed after the startup line for a server listening on `local`; an error if
/// the machine's interfaces cannot be listed.
pub(crate) fn report(local: SocketAddr, scheme: &str) -> std::io::Result<String> {
    let interfaces = if local.ip().is_unspecified() {
        if_addrs::get_if_addrs()?
            .iter()
            .map(if_addrs::Interface::ip)
            .collect()
    } else {
        Vec::new()
    };
    let urls = urls(local, scheme, &interfaces);
    let mut out = String::from("Reachable at:\n");
    for url in &urls {
        let _ = writeln!(out, "  {url}");
    }
    if let Some(first) = urls.first() {
        match qr_code(first) {
            Some(code) => {
                let _ = writeln!(out, "QR code of {first}:\n{code}");
            }
            None => {
                let _ = writeln!(out, "No QR code: {first} is too long for one");
            }
        }
    }
    Ok(out)
}

/// The URLs of a server listening on `local`, in the order printed; `interfaces` are the
/// machine's addresses, used when `local` is unspecified (`0.0.0.0` or `::`).
fn urls(local: SocketAddr, scheme: &str, interfaces: &[IpAddr]) -> Vec<String> {
    let mut ips: Vec<IpAddr> = match local.ip() {
        // `::` is dual-stack (the listener asks for it): IPv4 clients reach it too.
        IpAddr::V6(any) if any.is_unspecified() => interfaces.to_vec(),
        IpAddr::V4(any) if any.is_unspecified() => {
            interfaces.iter().copied().filter(IpAddr::is_ipv4).collect()
        }
        one => vec![one],
    };
    ips.retain(|ip| !matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()));
    // A stable sort: within a rank, the interfaces' own order.
    ips.sort_by_key(|ip| rank(*ip));
    ips.dedup();
    ips.iter()
        .map(|ip| format!("{scheme}://{}/", SocketAddr::new(*ip, local.port())))
        .collect()
}

/// How likely a phone on the same LAN reaches the address: lower first.
fn rank(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) if v4.is_private() => 0,
        IpAddr::V4(v4) if !v4.is_loopback() => 1,
        IpAddr::V6(v6) if !v6.is_loopback() => 2,
        _ => 3,
    }
}

/// `url` as a QR code in Unicode half blocks, two modules per character, with its quiet zone.
/// The blocks draw the *light* modules: on a terminal's usual dark background the code then
/// reads dark on light, as scanners expect, quiet zone included (on a light background it is
/// inverted, which phone cameras read too). `None` if the URL does not fit in a QR code.
fn qr_code(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().expect("ip")).collect()
    }

    #[test]
    fn every_interface_lan_first_link_local_v6_left_out() {
        let machine = ips(&[
            "127.0.0.1",
            "::1",
            "192.0.2.2",
            "fd00::2",
            "fe80::1",
            "10.1.2.3",
            "169.254.0.9",
        ]);
        assert_eq!(
            urls("[::]:8000".parse().expect("addr"), "http", &machine),
            [
                "http://10.1.2.3:8000/",
                "http://192.0.2.2:8000/",
                "http://169.254.0.9:8000/",
                "http://[fd00::2]:8000/",
                "http://127.0.0.1:8000/",
                "http://[::1]:8000/",
            ]
        );
        assert_eq!(
            urls("0.0.0.0:443".parse().expect("addr"), "https", &machine),
            [
                "https://10.1.2.3:443/",
                "https://192.0.2.2:443/",
                "https://169.254.0.9:443/",
                "https://127.0.0.1:443/",
            ]
        );
    }

    #[test]
    fn one_bound_address_is_the_only_url() {
        let machine = ips(&["10.1.2.3"]);
        assert_eq!(
            urls("127.0.0.1:80".parse().expect("addr"), "http", &machine),
            ["http://127.0.0.1:80/"]
        );
        assert_eq!(
            urls("[::1]:80".parse().expect("addr"), "http", &machine),
            ["http://[::1]:80/"]
        );
    }
}
