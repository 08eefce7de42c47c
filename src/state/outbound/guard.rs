//! The SSRF guard of every request Tessera makes to a URL someone else chose (OWASP SSRF
//! Prevention Cheat Sheet): webhook deliveries, where a tenant admin chooses the URL, and
//! clients' documents (`jwks_uri`, `request_uri`), where a client does. Unless the operator
//! allows private networks, such a request never reaches a loopback, private, link-local,
//! shared (carrier-grade NAT) or cloud-metadata address. The check runs on the addresses DNS
//! gives, just before connecting (so a name that resolves elsewhere by the time of the request
//! is caught), on IP literals, and on every redirect.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::Url;

/// Resolves names, keeping none of a host that has a forbidden address among its addresses.
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addresses.iter().find(|a| forbidden(a.ip())) {
                return Err(format!("{host} resolves to {}, a private address", bad.ip()).into());
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Why a redirect to `url` is refused, `None` to follow it: `before` URLs came before it (the
/// endpoint's own among them), at most `max` redirects are followed, and a `guarded` client
/// follows only https to a name (resolved by [`GuardedResolver`]) or a public address.
pub fn refused_redirect(url: &Url, before: usize, max: usize, guarded: bool) -> Option<String> {
    if before > max {
        return Some(format!("redirected more than {max} time(s)"));
    }
    if !guarded {
        return None;
    }
    if url.scheme() != "https" {
        return Some("redirected to a URL that is not https".into());
    }
    refused_literal(url).map(|why| format!("redirected to {why}"))
}

/// Why `url` may not be called, when its host is an IP literal that is forbidden (names are
/// checked when they are resolved).
pub fn refused_literal(url: &Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    forbidden(ip).then(|| format!("{ip} is a private address"))
}

/// Whether `ip` is somewhere a guarded request may not go.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped().or_else(|| nat64(ip)) {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(ip),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local() // 169.254/16: the metadata service of most clouds
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // 100.64/10, shared; Alibaba's metadata
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // 192.0.0/24, protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local() // fc00::/7, AWS's fd00:ec2::254 among them
        || ip.is_unicast_link_local()
        || ip.segments()[0] == 0x2001 && ip.segments()[1] == 0xdb8 // documentation
}

/// The IPv4 address of a NAT64 address (64:ff9b::/96, RFC 6052).
fn nat64(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}");
        }
        for good in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!forbidden(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_left_to_the_resolver() {
        let refused = |u: &str| refused_literal(&Url::parse(u).unwrap());
        assert!(refused("https://127.0.0.1/").is_some());
        assert!(refused("https://[::1]:8443/").is_some());
        assert!(
            refused("http://2130706433/").is_some(),
            "a decimal IPv4 address"
        );
        assert!(
            refused("http://0x7f.1/").is_some(),
            "a hexadecimal IPv4 address"
        );
        assert!(refused("https://1.1.1.1/").is_none());
        assert!(
            refused("https://localhost/").is_none(),
            "checked when resolved"
        );
    }

    #[test]
    fn redirects_are_counted_and_held_to_the_guard() {
        let refused = |u: &str, before: usize, guarded: bool| {
            refused_redirect(&Url::parse(u).unwrap(), before, 2, guarded)
        };
        assert_eq!(refused("https://hooks.example.com/next", 1, true), None);
        assert_eq!(refused("https://1.1.1.1/next", 2, true), None);
        assert!(
            refused("https://hooks.example.com/", 3, true).is_some(),
            "a third"
        );
        assert!(refused("https://hooks.example.com/", 3, false).is_some());
        for private in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://2130706433/",
            "http://hooks.example.com/",
        ] {
            let why = refused(private, 1, true);
            assert!(why.is_some(), "{private}");
            assert_eq!(refused(private, 1, false), None, "{private}: allowed");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_private_addresses() {
        let name: Name = "localhost".parse().unwrap();
        assert!(GuardedResolver.resolve(name).await.is_err());
    }
}
