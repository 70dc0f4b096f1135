//! The `weather` feed over HTTPS, against a local stand-in for Open-Meteo that speaks TLS
//! (rustls on 127.0.0.1:0) with a certificate from a test CA made for the run (rcgen).
//! With the CA trusted (`extra_root_certificates`) the feed must publish the stand-in's
//! readings as real; without it the handshake must fail and the feed must say so. So a
//! TLS client that cannot connect, or one that connects without verifying, fails here.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use common::{WsClient, start};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use switchboard_feeds::weather::{WeatherFeedConfig, parse_cities};
use switchboard_server::ServerConfig;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;

/// An HTTPS forecast API on 127.0.0.1 whose certificate a test CA signed.
struct TlsStandIn {
    addr: SocketAddr,
    /// The test CA's certificate, the one root that makes the stand-in trusted.
    ca_pem: String,
    /// TLS handshakes that failed (the client refused our certificate).
    refused_handshakes: Arc<AtomicUsize>,
    /// Forecast requests answered over an established TLS session.
    answered: Arc<AtomicUsize>,
}

impl TlsStandIn {
    async fn start() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "switchboard test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().expect("leaf key");
        // An IP address SAN: the feed is pointed at https://127.0.0.1:port.
        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "weather stand-in");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("leaf certificate");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .expect("server TLS config");
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let stand_in = Self {
            addr: listener.local_addr().expect("local addr"),
            ca_pem: ca_cert.pem(),
            refused_handshakes: Arc::default(),
            answered: Arc::default(),
        };
        let (refused, answered) = (
            stand_in.refused_handshakes.clone(),
            stand_in.answered.clone(),
        );
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, refused, answered) =
                    (acceptor.clone(), refused.clone(), answered.clone());
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(tls) => answer_one_request(tls, &answered).await,
                        Err(_) => {
                            refused.fetch_add(1, SeqCst);
                        }
                    }
                });
            }
        });
        stand_in
    }
}

/// Reads one HTTP/1.1 request head and answers it in Open-Meteo's format, then closes.
async fn answer_one_request(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    answered: &AtomicUsize,
) {
    let mut reader = BufReader::new(tls);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    assert!(
        request_line.starts_with("GET /v1/forecast?latitude=59.91&longitude=10.75&"),
        "{request_line}"
    );
    let body = json!({
        "latitude": 59.91,
        "longitude": 10.75,
        "current": {"time": "2026-11-21T22:30", "interval": 900, "temperature_2m": -3.25,
            "relative_humidity_2m": 71, "wind_speed_10m": 13.4, "weather_code": 3}
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut tls = reader.into_inner();
    if tls.write_all(response.as_bytes()).await.is_ok() {
        answered.fetch_add(1, SeqCst);
    }
    let _ = tls.shutdown().await;
}

fn https_config(stand_in: &TlsStandIn, trust_test_ca: bool) -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.weather = WeatherFeedConfig {
        enabled: true,
        base_url: format!("https://{}", stand_in.addr),
        cities: parse_cities("Oslo:59.91:10.75").expect("cities"),
        request_timeout: Duration::from_secs(3),
        retries: 0,
        extra_root_certificates: if trust_test_ca {
            vec![stand_in.ca_pem.clone()]
        } else {
            Vec::new()
        },
        ..WeatherFeedConfig::default()
    };
    config
}

async fn first_weather(server: &switchboard_server::Server) -> Value {
    let mut client = WsClient::connect_ready(server, "?channels=weather", 2).await;
    loop {
        let message = client.recv_type("message").await;
        if message["channel"] == "weather" {
            return message["data"].clone();
        }
    }
}

#[tokio::test]
async fn readings_fetched_over_tls_from_a_trusted_source_are_real() {
    let stand_in = TlsStandIn::start().await;
    let server = start(https_config(&stand_in, true)).await;
    let data = first_weather(&server).await;
    assert_eq!(data["source"], "open-meteo", "{data}");
    assert_eq!(data["simulated"], false, "{data}");
    let cities = data["cities"].as_array().expect("cities");
    assert_eq!(cities.len(), 1, "{data}");
    assert_eq!(cities[0]["reading"]["temperature_c"], -3.25, "{data}");
    assert_eq!(cities[0]["reading"]["conditions"], "Overcast");
    assert!(stand_in.answered.load(SeqCst) >= 1);
    assert_eq!(stand_in.refused_handshakes.load(SeqCst), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_source_whose_certificate_is_not_trusted_is_unreachable_not_real() {
    let stand_in = TlsStandIn::start().await;
    let server = start(https_config(&stand_in, false)).await;
    let data = first_weather(&server).await;
    assert_eq!(data["source"], "unreachable", "{data}");
    let cities = data["cities"].as_array().expect("cities");
    assert_eq!(cities.len(), 1, "{data}");
    assert_eq!(cities[0]["simulated"], true, "{data}");
    let error = cities[0]["error"].as_str().expect("an error");
    assert!(
        error.contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
    common::eventually("the stand-in to see the refused handshake", || {
        stand_in.refused_handshakes.load(SeqCst) >= 1
    })
    .await;
    assert_eq!(stand_in.answered.load(SeqCst), 0, "nothing was served");
    server.shutdown().await;
}
