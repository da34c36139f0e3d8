//! The kubeconfig the sandbox writes so clients find it.
//!
//! kube-rs (`kube::Config::from_custom_kubeconfig`) and `kubectl --kubeconfig PATH` both
//! read it. The sandbox has no authentication (it only listens on loopback), but clients
//! expect a user entry, so it carries a dummy bearer token.

use std::{fs, io::Write, path::Path};

use crate::error::{Result, SandboxError};

/// The cluster, context and user name in the kubeconfig.
pub const NAME: &str = "sluice-sandbox";
/// The dummy token (the sandbox accepts any request).
pub const TOKEN: &str = "sluice-sandbox-token";

/// The kubeconfig YAML for a server at `url`.
pub fn render(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {NAME}
  cluster:
    server: {url}
contexts:
- name: {NAME}
  context:
    cluster: {NAME}
    user: {NAME}
    namespace: default
current-context: {NAME}
preferences: {{}}
users:
- name: {NAME}
  user:
    token: {TOKEN}
"
    )
}

/// Writes the kubeconfig atomically (temp file + rename), readable only by the owner.
pub fn write(path: &Path, url: &str) -> Result<()> {
    let io = |what: &str, e| SandboxError::io(format!("cannot {what} {}", path.display()), e);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| io("write", e))?;
        f.write_all(render(url).as_bytes())
            .map_err(|e| io("write", e))?;
        f.sync_all().map_err(|e| io("sync", e))?;
    }
    fs::rename(&tmp, path).map_err(|e| io("write", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_names_server_and_token() {
        let text = render("http://127.0.0.1:1234");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
        assert_eq!(doc["current-context"].as_str(), Some(NAME));
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"].as_str(),
            Some("http://127.0.0.1:1234")
        );
        assert_eq!(doc["users"][0]["user"]["token"].as_str(), Some(TOKEN));
    }
}
