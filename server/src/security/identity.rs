//! The identities a client certificate carries: each URI SAN as `URI:<uri>`, then the
//! subject's common name as `CN:<name>` (the forms etcd, Typha and SPIFFE deployments use).

use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer as _};

/// The identities of a (verified) client certificate, URI SANs first. A certificate that
/// does not parse has none: the handshake already checked it, so this only guards the parse.
pub(crate) fn identities(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let uris = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .into_iter()
        .flat_map(|san| san.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(format!("URI:{uri}")),
            _ => None,
        });
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(|cn| format!("CN:{cn}"));
    uris.chain(cn).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_sans_then_the_common_name() {
        let mut params =
            rcgen::CertificateParams::new(vec!["host-1.example".to_owned()]).expect("valid names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "system:node:host-1");
        params.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://cluster.local/node/host-1"
                .try_into()
                .expect("valid URI"),
        ));
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = params.self_signed(&key).expect("a certificate");
        assert_eq!(
            identities(cert.der()),
            [
                "URI:spiffe://cluster.local/node/host-1",
                "CN:system:node:host-1"
            ]
        );
        assert!(identities(b"not a certificate").is_empty());
    }
}
