//! Listening: one server per provider, plain HTTP or HTTPS with a certificate from a generated CA, obeying
//! the listening faults (a closed socket, an untrusted certificate).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use mdmkit_core::ProviderKind;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::{Layer as _, ServiceExt as _};
use url::Url;

use crate::common::{sim, Ctx, Listening, Shared};
use crate::{faults, secrets};

/// The generated TLS material.
pub(crate) struct Tls {
    /// Presents the certificate signed by the sandbox CA.
    pub(crate) acceptor: TlsAcceptor,
    /// Presents a self-signed certificate (the untrusted-TLS fault).
    pub(crate) untrusted: TlsAcceptor,
    pub(crate) ca_pem: String,
}

/// The two acceptors a TLS server chooses from.
#[derive(Clone)]
pub(crate) struct Acceptors {
    trusted: TlsAcceptor,
    untrusted: TlsAcceptor,
}

impl Tls {
    pub(crate) fn acceptors(&self) -> Acceptors {
        Acceptors {
            trusted: self.acceptor.clone(),
            untrusted: self.untrusted.clone(),
        }
    }
}

/// The names the sandbox's certificates are for.
fn server_names() -> Vec<String> {
    vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ]
}

/// A CA and a server certificate for `localhost`, `127.0.0.1` and `::1` signed by it, and a self-signed
/// certificate for the same names that no client trusts.
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
    let leaf = CertificateParams::new(server_names())
        .map_err(err)?
        .signed_by(&key, &ca)
        .map_err(err)?;
    let stray_key = KeyPair::generate().map_err(err)?;
    let stray = CertificateParams::new(server_names())
        .map_err(err)?
        .self_signed(&stray_key)
        .map_err(err)?;
    Ok(Tls {
        acceptor: acceptor(leaf.der().clone(), &key)?,
        untrusted: acceptor(stray.der().clone(), &stray_key)?,
        ca_pem: ca.pem(),
    })
}

fn acceptor(
    cert: tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    key: &rcgen::KeyPair,
) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
                .map_err(str::to_owned)?,
        )
        .map_err(|e| e.to_string())?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Binds and serves one provider; returns its base URL and the serving task.
pub(crate) async fn serve(
    kind: ProviderKind,
    shared: Arc<Shared>,
    host: IpAddr,
    port: u16,
    tls: Option<Acceptors>,
) -> std::io::Result<(Url, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    let ctx = Ctx { shared, kind };
    ctx.provider().set_addr(addr);
    let https = tls.is_some();
    let routed = sim(kind)
        .router()
        .merge(crate::web_console::router(kind))
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
        .with_state(ctx.clone());
    // Middleware on the router runs after routing; what changes where a request goes wraps it.
    let app = Router::new().fallback_service(
        middleware::map_request_with_state(ctx.clone(), faults::before_routing).layer(routed),
    );
    let scheme = if https { "https" } else { "http" };
    let host_text = match addr.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let url = Url::parse(&format!("{scheme}://{host_text}:{}/", addr.port()))
        .map_err(std::io::Error::other)?;
    let task = tokio::spawn(accept_loop(listener, addr, app, tls, ctx));
    Ok((url, task))
}

/// Accepts connections while the faults allow; closes the socket while they say `refuse_connections` and
/// listens on the same address again once they no longer do.
async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    app: Router,
    tls: Option<Acceptors>,
    ctx: Ctx,
) {
    let mut changes = ctx.provider().fault_changes();
    let mut listener = Some(listener);
    loop {
        let listening = ctx.provider().listening();
        if listening.refuse {
            // Dropping the listener closes the socket: the kernel refuses connections to the port.
            listener = None;
            if changes.changed().await.is_err() {
                return;
            }
            continue;
        }
        let reopened = || {
            ctx.provider()
                .take_reopened()
                .and_then(|l| TcpListener::from_std(l).ok())
        };
        let bound = match listener.take().or_else(reopened) {
            Some(bound) => bound,
            None => match TcpListener::bind(addr).await {
                Ok(bound) => bound,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "the sandbox could not listen again; retrying");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        tokio::select! {
            accepted = bound.accept() => {
                if let Ok((stream, _)) = accepted {
                    // Read now, not before waiting: a connection made after `set_faults` returned meets
                    // the new faults.
                    let now = ctx.provider().listening();
                    if !now.refuse {
                        let acceptor = tls.as_ref().map(|a| match now.untrusted_tls {
                            true => a.untrusted.clone(),
                            false => a.trusted.clone(),
                        });
                        tokio::spawn(connection(stream, app.clone(), acceptor, ctx.clone(), now));
                    }
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        listener = Some(bound);
    }
}

/// Serves one connection until it ends, or until the listening faults change in a way that ends it (the
/// server stops listening, or its certificate changes): a request that arrives on it after the change is
/// not answered and the connection is closed, so no client is served over a connection opened before the
/// fault, whatever the timing.
async fn connection(
    stream: TcpStream,
    app: Router,
    tls: Option<TlsAcceptor>,
    ctx: Ctx,
    accepted_under: Listening,
) {
    let gone = {
        let ctx = ctx.clone();
        move || {
            let now = ctx.provider().listening();
            now.refuse || now.untrusted_tls != accepted_under.untrusted_tls
        }
    };
    let mut changes = ctx.provider().fault_changes();
    let ended = {
        let gone = gone.clone();
        async move {
            loop {
                if changes.changed().await.is_err() || gone() {
                    return;
                }
            }
        }
    };
    let service = tower::service_fn(move |request: axum::extract::Request<Incoming>| {
        let app = app.clone();
        let gone = gone();
        async move {
            if gone {
                return Err(std::io::Error::other("the server is gone"));
            }
            let Ok(response) = app.oneshot(request).await;
            Ok(response)
        }
    });
    let serve = async {
        match tls {
            None => serve_io(stream, service).await,
            Some(acceptor) => {
                // A client that rejects our certificate ends the handshake: nothing to serve.
                if let Ok(stream) = acceptor.accept(stream).await {
                    serve_io(stream, service).await;
                }
            }
        }
    };
    tokio::select! {
        _ = serve => {}
        _ = ended => {}
    }
}

async fn serve_io<I, S>(io: I, service: S)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<
            axum::extract::Request<Incoming>,
            Response = axum::response::Response,
            Error = std::io::Error,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .await;
}
