//! The outbound URL guard: which webhook targets Causeloop may send requests to.
//!
//! A webhook URL is chosen by a customer and fetched by our servers, which makes it a classic
//! server-side request forgery vector: `http://169.254.169.254/` would hand out the Lambda's
//! credentials, `http://10.0.0.5/admin` would reach our private network. The rules:
//!
//! * the scheme is `https`, unless private targets are allowed (local development), which also
//!   admits `http`;
//! * no user-info (`https://user:pass@host`): credentials in a URL end up in listings and logs;
//! * every address the host stands for must be public: loopback, RFC 1918, CGNAT, link-local,
//!   unique-local, multicast, broadcast, unspecified, documentation and reserved ranges are refused
//!   — IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) is judged by its IPv4 address;
//! * cloud metadata endpoints are refused always, even when private targets are allowed.
//!
//! [`check_outbound_url`] judges the URL text (and IP literals in it); the caller resolves a
//! host name and judges each address with [`check_resolved_address`] — at registration, and again
//! at connection time, because DNS answers can change after registration (rebinding).
//!
//! Pure: no resolution happens here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

pub const MAX_URL_CHARS: usize = 2_048;

/// What an address is, for the purpose of deciding whether to send a request to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918 (and deprecated IPv6 site-local).
    Private,
    /// 100.64.0.0/10, carrier-grade NAT: private in practice.
    SharedAddressSpace,
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    Multicast,
    Broadcast,
    Unspecified,
    Documentation,
    Reserved,
    /// Instance metadata services (AWS IMDS, ECS task metadata, EKS Pod Identity).
    CloudMetadata,
    /// The Lambda Runtime API's port, on whatever host.
    RuntimeApi,
}

impl AddressClass {
    /// Classes that a local developer may target with `--allow-private-targets`.
    fn is_private_network(self) -> bool {
        matches!(
            self,
            AddressClass::Loopback
                | AddressClass::Private
                | AddressClass::SharedAddressSpace
                | AddressClass::LinkLocal
                | AddressClass::UniqueLocal
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::RuntimeApi => "the port of the Lambda Runtime API",
            AddressClass::Private => "a private-network address",
            AddressClass::SharedAddressSpace => "a carrier-grade NAT (100.64.0.0/10) address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::UniqueLocal => "an IPv6 unique-local address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Unspecified => "the unspecified address",
            AddressClass::Documentation => "a documentation-only address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::CloudMetadata => "a cloud metadata endpoint",
        }
    }
}

/// The AWS instance metadata service (also used by other clouds), the ECS task metadata one,
/// and the EKS Pod Identity agent: each hands out credentials.
const METADATA_V4: [Ipv4Addr; 3] =
    [Ipv4Addr::new(169, 254, 169, 254), Ipv4Addr::new(169, 254, 170, 2), Ipv4Addr::new(169, 254, 170, 23)];
/// The same over IPv6: IMDS on Nitro instances, and the EKS Pod Identity agent.
const METADATA_V6: [Ipv6Addr; 2] =
    [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254), Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0023)];
/// The port of the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API` is `127.0.0.1:9001`): a request
/// to it could take the function's next invocation. Refused even when private targets are allowed.
pub const LAMBDA_RUNTIME_API_PORT: u16 = 9001;
/// Host names that resolve to a metadata service inside the cloud.
const METADATA_HOSTS: &[&str] =
    &["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"];

pub fn classify_ipv4(ip: Ipv4Addr) -> AddressClass {
    if METADATA_V4.contains(&ip) {
        return AddressClass::CloudMetadata;
    }
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::SharedAddressSpace,
        (127, _, _) => AddressClass::Loopback,
        (169, 254, _) => AddressClass::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Documentation,
        (192, 0, 0) | (198, 18..=19, _) => AddressClass::Reserved,
        (224..=239, _, _) => AddressClass::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => AddressClass::Broadcast,
        (240..=255, _, _) => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

/// The IPv4 address an IPv6 address carries, for the forms that route to it.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated; not :: and ::1).
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(v4(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) > (0, 1) => Some(v4(hi, lo)),
        // 64:ff9b::/96, NAT64.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        // 2002:AABB:CCDD::/48, 6to4.
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

pub fn classify_ipv6(ip: Ipv6Addr) -> AddressClass {
    if METADATA_V6.contains(&ip) {
        return AddressClass::CloudMetadata;
    }
    if let Some(v4) = embedded_ipv4(ip) {
        return classify_ipv4(v4);
    }
    let s = ip.segments();
    match s[0] {
        _ if ip.is_unspecified() => AddressClass::Unspecified,
        _ if ip.is_loopback() => AddressClass::Loopback,
        0xfe80..=0xfebf => AddressClass::LinkLocal,
        0xfec0..=0xfeff => AddressClass::Private,
        0xfc00..=0xfdff => AddressClass::UniqueLocal,
        0xff00..=0xffff => AddressClass::Multicast,
        0x2001 if s[1] == 0x0db8 => AddressClass::Documentation,
        // Only 2000::/3 is global unicast; the rest (discard-only 100::/64 and friends) is not routable.
        0x2000..=0x3fff => AddressClass::Public,
        _ => AddressClass::Reserved,
    }
}

pub fn classify_ip(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_ipv4(v4),
        IpAddr::V6(v6) => classify_ipv6(v6),
    }
}

/// Why a URL may not be a webhook target. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefusal {
    Invalid(String),
    TooLong,
    SchemeNotAllowed { scheme: String, allow_private: bool },
    HasCredentials,
    ForbiddenAddress { host: String, class: AddressClass },
}

impl UrlRefusal {
    /// A stable machine code for the API error.
    pub fn code(&self) -> &'static str {
        match self {
            UrlRefusal::Invalid(_) | UrlRefusal::TooLong | UrlRefusal::HasCredentials => "invalid_url",
            UrlRefusal::SchemeNotAllowed { .. } => "insecure_url",
            UrlRefusal::ForbiddenAddress { .. } => "forbidden_target",
        }
    }
}

impl fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlRefusal::Invalid(why) => write!(f, "`url` is not a valid absolute URL: {why}"),
            UrlRefusal::TooLong => write!(f, "`url` exceeds the limit of {MAX_URL_CHARS} characters"),
            UrlRefusal::SchemeNotAllowed { scheme, allow_private: false } => {
                write!(f, "`url` must use https (got `{scheme}`)")
            }
            UrlRefusal::SchemeNotAllowed { scheme, allow_private: true } => {
                write!(f, "`url` must use https or http (got `{scheme}`)")
            }
            UrlRefusal::HasCredentials => {
                write!(f, "`url` must not carry a user name or password; authenticate with the signing secret")
            }
            UrlRefusal::ForbiddenAddress { host, class } => {
                write!(f, "`url` targets {host}, {}; webhook targets must be public", class.describe())
            }
        }
    }
}

/// Judges one address a target host stands for.
pub fn check_resolved_address(host: &str, ip: IpAddr, allow_private: bool) -> Result<(), UrlRefusal> {
    let class = classify_ip(ip);
    if class == AddressClass::Public || (allow_private && class.is_private_network()) {
        Ok(())
    } else {
        Err(UrlRefusal::ForbiddenAddress { host: host.to_string(), class })
    }
}

/// A URL that passed the textual checks. `resolve` names the host still to resolve and check
/// with [`check_resolved_address`]; it is `None` when the host was an IP literal, already judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    pub url: Url,
    pub resolve: Option<(String, u16)>,
}

/// Parses and judges a webhook target URL (see the module documentation for the rules).
pub fn check_outbound_url(text: &str, allow_private: bool) -> Result<CheckedUrl, UrlRefusal> {
    if text.chars().count() > MAX_URL_CHARS {
        return Err(UrlRefusal::TooLong);
    }
    let url = Url::parse(text.trim()).map_err(|err| UrlRefusal::Invalid(err.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => return Err(UrlRefusal::SchemeNotAllowed { scheme: other.to_string(), allow_private }),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::HasCredentials);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    if allow_private && port == LAMBDA_RUNTIME_API_PORT {
        // Only private targets can reach it; names are resolved later, without the port.
        return Err(UrlRefusal::ForbiddenAddress {
            host: format!("{}:{port}", url.host_str().unwrap_or_default()),
            class: AddressClass::RuntimeApi,
        });
    }
    let resolve = match url.host() {
        None => return Err(UrlRefusal::Invalid("it has no host".into())),
        Some(Host::Ipv4(ip)) => {
            check_resolved_address(&ip.to_string(), IpAddr::V4(ip), allow_private)?;
            None
        }
        Some(Host::Ipv6(ip)) => {
            check_resolved_address(&format!("[{ip}]"), IpAddr::V6(ip), allow_private)?;
            None
        }
        Some(Host::Domain(domain)) => {
            let name = domain.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_HOSTS.contains(&name.as_str()) {
                return Err(UrlRefusal::ForbiddenAddress { host: name, class: AddressClass::CloudMetadata });
            }
            // RFC 6761: `localhost` and its subdomains are loopback whatever DNS says.
            if (name == "localhost" || name.ends_with(".localhost")) && !allow_private {
                return Err(UrlRefusal::ForbiddenAddress { host: name, class: AddressClass::Loopback });
            }
            Some((name, port))
        }
    };
    Ok(CheckedUrl { url, resolve })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> AddressClass {
        classify_ip(text.parse().unwrap())
    }

    #[test]
    fn classifies_ipv4_ranges() {
        for (ip, expected) in [
            ("8.8.8.8", AddressClass::Public),
            ("93.184.215.14", AddressClass::Public),
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.0.9", AddressClass::Loopback),
            ("10.0.0.1", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("172.32.0.1", AddressClass::Public),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::SharedAddressSpace),
            ("100.127.255.255", AddressClass::SharedAddressSpace),
            ("100.128.0.1", AddressClass::Public),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("169.254.169.254", AddressClass::CloudMetadata),
            ("169.254.170.2", AddressClass::CloudMetadata),
            ("169.254.170.23", AddressClass::CloudMetadata),
            ("0.0.0.0", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
            ("240.0.0.1", AddressClass::Reserved),
            ("192.0.2.1", AddressClass::Documentation),
            ("198.18.0.1", AddressClass::Reserved),
        ] {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn classifies_ipv6_including_embedded_ipv4() {
        for (ip, expected) in [
            ("2606:4700:4700::1111", AddressClass::Public),
            ("::1", AddressClass::Loopback),
            ("::", AddressClass::Unspecified),
            ("fe80::1", AddressClass::LinkLocal),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fd12:3456::1", AddressClass::UniqueLocal),
            ("ff02::1", AddressClass::Multicast),
            ("2001:db8::1", AddressClass::Documentation),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:10.1.2.3", AddressClass::Private),
            ("::ffff:169.254.169.254", AddressClass::CloudMetadata),
            ("::ffff:8.8.8.8", AddressClass::Public),
            ("::127.0.0.1", AddressClass::Loopback),
            ("64:ff9b::a00:1", AddressClass::Private),
            ("2002:7f00:1::", AddressClass::Loopback),
            ("fd00:ec2::254", AddressClass::CloudMetadata),
            ("fd00:ec2::23", AddressClass::CloudMetadata),
        ] {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn requires_https_unless_private_targets_are_allowed() {
        assert!(check_outbound_url("https://hooks.example.com/causeloop", false).is_ok());
        let refusal = check_outbound_url("http://hooks.example.com/causeloop", false).unwrap_err();
        assert_eq!(refusal.code(), "insecure_url");
        assert!(check_outbound_url("http://hooks.example.com/causeloop", true).is_ok());
        assert_eq!(check_outbound_url("ftp://hooks.example.com/", true).unwrap_err().code(), "insecure_url");
        assert_eq!(check_outbound_url("not a url", true).unwrap_err().code(), "invalid_url");
        assert_eq!(
            check_outbound_url("https://user:pw@hooks.example.com/", true).unwrap_err(),
            UrlRefusal::HasCredentials
        );
    }

    #[test]
    fn refuses_the_lambda_runtime_api_port_when_private_targets_are_allowed() {
        for url in [
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "http://localhost:9001/",
            "http://10.0.0.5:9001/",
        ] {
            let refused = check_outbound_url(url, true).unwrap_err();
            assert!(matches!(refused, UrlRefusal::ForbiddenAddress { class: AddressClass::RuntimeApi, .. }), "{url}");
        }
        assert!(check_outbound_url("http://127.0.0.1:9002/hook", true).is_ok());
        assert!(check_outbound_url("https://hooks.example.com:9001/", false).is_ok(), "a public host may use the port");
    }

    #[test]
    fn refuses_private_literals_unless_allowed_and_metadata_always() {
        for url in [
            "https://10.0.0.1/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://100.64.1.1/x",
            "https://[fe80::1]/x",
            "https://[fd00::1]/x",
            "https://localhost/x",
            "https://api.localhost/x",
            // The WHATWG parser normalizes these spellings of 127.0.0.1 before we judge them.
            "https://0x7f.1/x",
            "https://2130706433/x",
        ] {
            let refusal = check_outbound_url(url, false).unwrap_err();
            assert_eq!(refusal.code(), "forbidden_target", "{url}");
            assert!(check_outbound_url(url, true).is_ok(), "{url} is allowed for local development");
        }
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "http://169.254.169.254/",
            "https://[::ffff:169.254.169.254]/",
            "https://[fd00:ec2::254]/",
            "https://metadata.google.internal/",
            "https://0.0.0.0/",
            "https://224.0.0.1/",
        ] {
            assert_eq!(check_outbound_url(url, true).unwrap_err().code(), "forbidden_target", "{url}");
        }
    }

    #[test]
    fn host_names_are_left_for_resolution() {
        let checked = check_outbound_url("https://Hooks.Example.com:8443/a", false).unwrap();
        assert_eq!(checked.resolve, Some(("hooks.example.com".to_string(), 8443)));
        assert_eq!(check_outbound_url("https://8.8.8.8/a", false).unwrap().resolve, None);
        assert!(check_resolved_address("h", "10.0.0.1".parse().unwrap(), false).is_err());
        assert!(check_resolved_address("h", "10.0.0.1".parse().unwrap(), true).is_ok());
        assert!(check_resolved_address("h", "169.254.169.254".parse().unwrap(), true).is_err());
    }
}
