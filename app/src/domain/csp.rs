//! The Content-Security-Policy of the console's pages, in one place: the server sends it
//! with every page (with that response's nonce), and its tests check it.

/// The policy of a page whose inline scripts carry `nonce`. The wasm bundle needs
/// `'wasm-unsafe-eval'`; styles allow inline attributes (Leptos and cytoscape set them),
/// which cannot run code; nothing may frame the console.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The policy of everything that is not a page (JSON, static files, refusals): nothing
/// may run, and nothing may frame it.
pub const NON_PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_allow_only_their_own_inline_scripts_and_no_framing() {
        let csp = page_policy("abc");
        let script_src = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert_eq!(
            script_src.trim(),
            "script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("object-src 'none'"));
        assert!(NON_PAGE_POLICY.contains("default-src 'none'"));
        assert!(NON_PAGE_POLICY.contains("frame-ancestors 'none'"));
    }
}
