//! Who cannot connect at all: no client certificate, another CA's, an expired one, plaintext;
//! and the start-up mistakes that stop the server with a message.

use hostendpoint_tests::{
    ApiClient, get,
    pki::{Pki, Subject},
    run_to_exit,
};

use hostendpoint_tests::mtls::{MtlsServer, path_str, tls_args};

/// The first call on a connection whose handshake the server refused fails at the transport
/// (with TLS 1.3 the client learns of the refusal only then), never with an answer.
async fn assert_refused(connected: Result<tonic::transport::Channel, tonic::transport::Error>) {
    let Ok(channel) = connected else { return };
    let status = get(&mut ApiClient::new(channel), "a1")
        .await
        .expect_err("no call is answered without a valid client certificate");
    // A status the server sent has no source; a failure of the client's transport has one.
    assert!(
        std::error::Error::source(&status).is_some(),
        "a transport failure, not an answer: {status:?}"
    );
}

#[tokio::test]
async fn handshakes_without_a_valid_client_certificate_fail() {
    let secured = MtlsServer::start();
    let ca = secured.pki.ca_file();
    assert_refused(secured.server.tls_channel(&ca, None).await).await;
    // The operator sees why, as etcd logs a rejected connection.
    hostendpoint_tests::wait_for("the refusal is logged", super::RELOAD_DEADLINE, || async {
        let log = secured.server.log_text();
        log.lines()
            .any(|l| l.contains("rejected connection") && l.contains("peer sent no certificates"))
            .then_some(())
    })
    .await;

    let foreign = Pki::new("foreign");
    let impostor = foreign.client_cn("impostor", "calico-admin");
    assert_refused(secured.server.tls_channel(&ca, Some(&impostor)).await).await;

    let expired = secured.pki.client(
        "expired",
        Subject {
            cn: Some("calico-admin"),
            expired: true,
            ..Subject::default()
        },
    );
    assert_refused(secured.server.tls_channel(&ca, Some(&expired)).await).await;

    // A client that does not trust the server's CA refuses it in turn.
    let mistrusting = secured
        .server
        .tls_channel(&foreign.ca_file(), Some(&secured.admin))
        .await;
    assert_refused(mistrusting).await;

    // Plaintext HTTP/2 to the TLS port.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{}", secured.server.addr))
        .expect("a valid URL")
        .connect()
        .await;
    assert_refused(plain).await;

    // The valid admin still works after all of that.
    let mut admin = secured.client(&secured.admin).await;
    let status = get(&mut admin, "a1").await.expect_err("nothing stored yet");
    assert_eq!(status.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn start_up_mistakes_stop_the_server_with_a_message() {
    let pki = Pki::new("startup");
    let server = pki.server("server");
    let other = pki.server("other");
    let data = tempfile::tempdir().expect("a data directory");
    let garbage = pki.dir().join("garbage.pem");
    std::fs::write(&garbage, "not PEM at all").expect("written");
    let broken_policy = pki.dir().join("broken.yaml");
    std::fs::write(&broken_policy, "admin: [CN:ok\n").expect("written");
    let missing = pki.dir().join("missing.pem");

    let cert = path_str(&server.cert).to_owned();
    let key = path_str(&server.key).to_owned();
    let other_key = path_str(&other.key).to_owned();
    let ca = path_str(&pki.ca_file()).to_owned();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "--tls-cert-file".into(),
                path_str(&missing).to_owned(),
                "--tls-key-file".into(),
                key.clone(),
            ],
            format!("TLS: cannot read {}", missing.display()),
        ),
        (
            vec![
                "--tls-cert-file".into(),
                path_str(&garbage).to_owned(),
                "--tls-key-file".into(),
                key.clone(),
            ],
            format!("TLS: {}: no PEM certificate found", garbage.display()),
        ),
        (
            vec![
                "--tls-cert-file".into(),
                cert.clone(),
                "--tls-key-file".into(),
                other_key,
            ],
            "TLS: ".into(),
        ),
        (
            [
                tls_args(&server, &pki.ca_file()),
                vec!["--authz-policy".into(), path_str(&broken_policy).to_owned()],
            ]
            .concat(),
            format!("authorization policy: {}:", broken_policy.display()),
        ),
        (
            vec!["--tls-cert-file".into(), cert.clone()],
            "--tls-key-file".into(),
        ),
        (
            vec!["--tls-client-ca-file".into(), ca.clone()],
            "--tls-cert-file".into(),
        ),
        (
            vec![
                "--tls-cert-file".into(),
                cert,
                "--tls-key-file".into(),
                key,
                "--authz-policy".into(),
                path_str(&broken_policy).to_owned(),
            ],
            "--tls-client-ca-file".into(),
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run_to_exit(data.path(), &args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} must not start");
        assert!(
            stderr.contains(&expected),
            "{args:?}: expected {expected:?} in:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn listening_beyond_loopback_without_client_certificates_is_warned_about() {
    const WARNING: &str = "client certificates are not required (--tls-client-ca-file): anyone \
                           who reaches this address can read, change and delete every host \
                           endpoint";
    let open = hostendpoint_tests::ServerProcess::start_listening("0.0.0.0:0", &[]);
    assert!(open.log_text().contains(WARNING), "{}", open.log_text());
    let loopback = hostendpoint_tests::ServerProcess::start();
    assert!(!loopback.log_text().contains(WARNING));
}
