//! HTTPS: the `[tls]` certificate chain and key, loaded at start and loaded again on SIGHUP
//! or when either file changes on disk. A reload swaps what new handshakes are given;
//! connections already open keep theirs, so nothing is dropped. A pair that fails to load is
//! logged and the pair in use kept: a half-copied renewal never takes mfad offline.

use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// How often the files are checked for changes (a renewal by certbot, say).
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Why a certificate chain or key cannot be used. Never shows key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a PEM certificate chain: {detail}", path.display())]
    Certificate { path: PathBuf, detail: String },
    #[error("{}: others may read this private key (mode {mode:03o}); chmod o-rwx it", path.display())]
    KeyMode { path: PathBuf, mode: u32 },
    #[error(
        "{}: not a PEM private key (PKCS#8, PKCS#1 or SEC1), or one rustls cannot use",
        path.display()
    )]
    Key { path: PathBuf },
    #[error("{}: the key does not match the certificate in {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
}

/// The two files of `[tls]`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    pub fn from_config(config: &mfa_config::Config) -> Option<Self> {
        config.tls.files().map(|(cert, key)| Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Reads and checks both files: a chain of at least one certificate, a key that others
    /// may not read, and that the key is the certificate's.
    pub fn load(&self) -> Result<Loaded, TlsError> {
        let chain = read_chain(&self.cert)?;
        let key = read_key(&self.key)?;
        let provider = provider();
        let signing_key =
            provider
                .key_provider
                .load_private_key(key)
                .map_err(|_| TlsError::Key {
                    path: self.key.clone(),
                })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(_) => {
                return Err(TlsError::Mismatch {
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                });
            }
        }
        Ok(Loaded {
            certificates: certified.cert.len(),
            certified: Arc::new(certified),
        })
    }

    /// What the files look like now, to notice a change without reading them.
    fn stamp(&self) -> Stamp {
        let of = |path: &Path| {
            std::fs::metadata(path)
                .ok()
                .map(|m| (m.ino(), m.len(), m.modified().ok()))
        };
        Stamp([of(&self.cert), of(&self.key)])
    }
}

/// A checked pair, ready to serve.
pub struct Loaded {
    /// Certificates in the chain, the server's own first.
    pub certificates: usize,
    certified: Arc<CertifiedKey>,
}

#[derive(Debug, PartialEq, Eq)]
struct Stamp([Option<(u64, u64, Option<SystemTime>)>; 2]);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(path: &Path, check_mode: bool) -> Result<Vec<u8>, TlsError> {
    let read_err = |source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    if check_mode {
        // The mode of the file opened: it cannot be swapped between check and read.
        let mode = file.metadata().map_err(read_err)?.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            return Err(TlsError::KeyMode {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(read_err)?;
    Ok(bytes)
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path, false)?;
    let bad = |detail: String| TlsError::Certificate {
        path: path.to_owned(),
        detail,
    };
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no CERTIFICATE block in it".into()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = zeroize::Zeroizing::new(read_file(path, true)?);
    // The parser's own message may quote the file: it is not passed on.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::Key {
        path: path.to_owned(),
    })
}

/// The pair new handshakes get, swapped by [`Certificates::reload`].
#[derive(Debug)]
pub struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    stamp: Mutex<Stamp>,
}

impl Certificates {
    /// Loads the pair; an error here stops mfad from starting.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let stamp = files.stamp();
        let loaded = files.load()?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new(loaded.certified),
            stamp: Mutex::new(stamp),
        }))
    }

    /// The acceptor for [`super::serve`]: TLS 1.2 and 1.3, HTTP/1.1, no client certificates.
    pub fn acceptor(self: &Arc<Self>) -> Result<TlsAcceptor, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Loads the files again and serves them to new handshakes; on error keeps the old pair.
    pub fn reload(&self) -> Result<Loaded, TlsError> {
        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) = self.files.stamp();
        let loaded = self.files.load()?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded.certified.clone();
        Ok(loaded)
    }

    /// Whether either file changed (or appeared, or went) since it was last loaded.
    fn changed(&self) -> bool {
        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) != self.files.stamp()
    }

    /// Reloads on every `hup` and whenever the files change; runs until `hup` ends.
    pub async fn watch(self: Arc<Self>, mut hup: tokio::sync::mpsc::Receiver<()>) {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                signal = hup.recv() => match signal {
                    Some(()) => "SIGHUP",
                    None => return,
                },
                _ = tick.tick() => {
                    if !self.changed() {
                        continue;
                    }
                    "a file changed"
                }
            };
            self.reload_logged(why);
        }
    }

    fn reload_logged(&self, why: &str) {
        let (cert, key) = (self.files.cert.display(), self.files.key.display());
        match self.reload() {
            Ok(loaded) => tracing::info!(
                %cert, %key, certificates = loaded.certificates, reason = why,
                "TLS certificate reloaded"
            ),
            Err(error) => tracing::error!(
                %error, reason = why,
                "TLS certificate not reloaded; still serving the one loaded before"
            ),
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}
