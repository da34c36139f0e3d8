//! The kubeconfig the sandbox writes so clients find it.
//!
//! kube-rs (`kube::Config::from_custom_kubeconfig`) and `kubectl --kubeconfig PATH` both
//! read it. The main one carries the administrator's token; each user's
//! (`users/<user>.kubeconfig`) carries theirs (see `auth::users`).

use std::path::Path;

use crate::error::Result;

/// The cluster and context name in the kubeconfig (and the administrator's user entry).
pub const NAME: &str = "sluice-sandbox";

/// The kubeconfig YAML for `user` (authenticating with `token`) at a server at `url`.
pub fn render(url: &str, ca_data: &str, user: &str, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {NAME}
  cluster:
    server: {url}
    certificate-authority-data: {ca_data}
contexts:
- name: {NAME}
  context:
    cluster: {NAME}
    user: {user}
    namespace: default
current-context: {NAME}
preferences: {{}}
users:
- name: {user}
  user:
    token: {token}
"
    )
}

/// Writes the kubeconfig atomically (temp file + rename), readable only by the owner.
pub fn write(path: &Path, url: &str, ca_data: &str, user: &str, token: &str) -> Result<()> {
    crate::auth::users::write_private(path, &render(url, ca_data, user, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_names_server_and_token() {
        let text = render("https://127.0.0.1:1234", "Q0E=", "alice", "t0k3n");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
        assert_eq!(doc["current-context"].as_str(), Some(NAME));
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"].as_str(),
            Some("https://127.0.0.1:1234")
        );
        assert_eq!(doc["users"][0]["user"]["token"].as_str(), Some("t0k3n"));
        assert_eq!(doc["users"][0]["name"].as_str(), Some("alice"));
        assert_eq!(
            doc["contexts"][0]["context"]["user"].as_str(),
            Some("alice")
        );
    }
}
