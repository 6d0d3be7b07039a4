//! TLS in front of Nautobot for `tests/tls.rs`: throwaway CAs and a server certificate made
//! with the `openssl` command at test time, and a TLS-terminating TCP relay that forwards the
//! decrypted bytes to a plain-HTTP upstream (the fault proxy, which counts the requests).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A temporary directory with two CAs and a server certificate for 127.0.0.1 and localhost
/// signed by the first one; removed on drop.
pub struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command runs (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// Makes `ca.pem` (the CA that signs the server), `other-ca.pem` (a CA that signed nothing
    /// here) and `server.pem`/`server.key` (EC P-256, for 127.0.0.1 and localhost, valid for a
    /// day).
    pub fn new() -> Pki {
        Pki::with_server("IP:127.0.0.1,DNS:localhost", "1")
    }

    /// The same with the server certificate's subjectAltName and validity in days (`"0"`:
    /// it expires the second it is made).
    pub fn with_server(san: &str, days: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "nbsync-pki-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for (name, cn) in [("ca", "nbsync test CA"), ("other-ca", "nbsync other CA")] {
            let (key, pem, subj) = (
                format!("{name}.key"),
                format!("{name}.pem"),
                format!("/CN={cn}"),
            );
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend([
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "1",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&dir, &args);
        }
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=nautobot",
        ]);
        openssl(&dir, &args);
        std::fs::write(
            dir.join("server.ext"),
            format!(
                "subjectAltName={san}\nbasicConstraints=CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                days,
                "-extfile",
                "server.ext",
            ],
        );
        Pki { dir }
    }

    /// The PEM of the CA that signed the server's certificate.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.pem")).unwrap()
    }

    /// The PEM of a CA that did not.
    pub fn other_ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("other-ca.pem")).unwrap()
    }

    fn server_config(&self) -> rustls::ServerConfig {
        nbsync::nautobot::install_crypto_provider();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(self.dir.join("server.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(self.dir.join("server.key")).unwrap();
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS server on 127.0.0.1 that relays every decrypted connection to `upstream`.
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    handshakes_ok: Arc<AtomicU64>,
    handshakes_failed: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Starts it; `upstream` is an `http://host:port` URL.
    pub async fn start(pki: &Pki, upstream: &str) -> TlsFront {
        let acceptor = TlsAcceptor::from(Arc::new(pki.server_config()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (ok2, failed2) = (ok.clone(), failed.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                let (ok, failed) = (ok2.clone(), failed2.clone());
                tokio::spawn(async move {
                    let mut tls = match acceptor.accept(tcp).await {
                        Ok(s) => s,
                        Err(_) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    };
                    ok.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut plain) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsFront {
            url: format!("https://{addr}"),
            handshakes_ok: ok,
            handshakes_failed: failed,
            task,
        }
    }

    /// Handshakes completed.
    pub fn handshakes_ok(&self) -> u64 {
        self.handshakes_ok.load(Ordering::SeqCst)
    }

    /// Handshakes the client broke off (it did not trust the certificate).
    pub fn handshakes_failed(&self) -> u64 {
        self.handshakes_failed.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
