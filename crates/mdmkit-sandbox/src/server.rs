//! Listening: one server per provider, plain HTTP or HTTPS with a certificate from a generated CA.

use std::net::IpAddr;
use std::sync::Arc;

use axum::middleware;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use mdmkit_core::ProviderKind;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use url::Url;

use crate::common::{sim, Ctx, Shared};
use crate::{faults, secrets};

/// The generated TLS material.
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) ca_pem: String,
}

/// A CA and a server certificate for `localhost`, `127.0.0.1` and `::1` signed by it.
pub(crate) fn generate_tls() -> Result<Tls, String> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let err = |e: rcgen::Error| e.to_string();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mdmkit sandbox CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let leaf = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(err)?
    .signed_by(&key, &ca)
    .map_err(err)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
                .map_err(str::to_owned)?,
        )
        .map_err(|e| e.to_string())?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca.pem(),
    })
}

/// Binds and serves one provider; returns its base URL and the serving task.
pub(crate) async fn serve(
    kind: ProviderKind,
    shared: Arc<Shared>,
    host: IpAddr,
    port: u16,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<(Url, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    let ctx = Ctx { shared, kind };
    let https = tls.is_some();
    let app = sim(kind)
        .router()
        .layer(middleware::from_fn_with_state(ctx.clone(), faults::inject))
        .layer(middleware::from_fn_with_state(
            ctx.clone(),
            secrets::unsuffix,
        ))
        // Simulators that build absolute links (next pages) read the scheme from `X-Forwarded-Proto`, as
        // behind a TLS-terminating proxy; in TLS mode the server says https itself.
        .layer(middleware::map_request(
            move |mut request: axum::extract::Request| async move {
                if https {
                    request.headers_mut().insert(
                        "x-forwarded-proto",
                        axum::http::HeaderValue::from_static("https"),
                    );
                }
                request
            },
        ))
        .with_state(ctx);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host_text = match addr.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let url = Url::parse(&format!("{scheme}://{host_text}:{}/", addr.port()))
        .map_err(std::io::Error::other)?;
    let task = match tls {
        None => tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }),
        Some(acceptor) => tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    // A client that rejects our certificate ends the handshake: nothing to serve.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }),
    };
    Ok((url, task))
}
