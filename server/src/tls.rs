//! The TLS of the server's own HTTP clients (S3 storage, `import`): rustls on ring.

/// Makes ring rustls's process-wide crypto provider, once; later calls do nothing. reqwest's rustls
/// is built without a provider so that `aws-lc-rs` (a C and assembly build) stays out. rustls
/// deprecates ring's provider for lacking post-quantum key exchange, which only aws-lc-rs has.
pub fn use_ring() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}
