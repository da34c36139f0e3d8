//! The sandbox's users: a static token file, as kube-apiserver's `--token-auth-file`.
//!
//! `<state>/tokens.csv` holds one line per user, in kube-apiserver's format
//! (`token,user,uid,"group1,group2"`). A fresh sandbox writes it with random tokens for
//! its administrator (`sluice-sandbox-admin`, in `system:masters`: the console's own
//! kubeconfig) and two demo users, `alice` and `bob`, who start with no rights at all:
//! what they may do is whatever RBAC bindings say. Tokens survive restarts, so a pasted
//! token keeps working; delete the file to rotate them all. Every user also gets a
//! kubeconfig in `<state>/users/<user>.kubeconfig`.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use super::UserInfo;
use crate::error::{Result, SandboxError};

/// The administrator: the console's service identity and the main kubeconfig's user.
pub const ADMIN: &str = "sluice-sandbox-admin";
/// The demo users and their groups (no group grants anything until bound).
pub const DEMO_USERS: [(&str, &str); 2] = [("alice", "sluice-demo"), ("bob", "sluice-demo")];

/// One line of the token file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub token: String,
    pub user: UserInfo,
}

/// Everyone who can sign in to the sandbox API.
#[derive(Debug, Clone)]
pub struct Users {
    accounts: Vec<Account>,
    file: PathBuf,
}

fn new_token() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_uid() -> String {
    crate::object::new_uid()
}

/// Parses kube-apiserver's token file format. Blank lines and `#` comments are skipped.
pub fn parse(text: &str) -> std::result::Result<Vec<Account>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(4, ',');
        let (Some(token), Some(name), Some(uid)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "line {}: expected token,user,uid[,\"group1,group2\"]",
                i + 1
            ));
        };
        if token.is_empty() || name.is_empty() {
            return Err(format!(
                "line {}: the token and the user must not be empty",
                i + 1
            ));
        }
        let groups: Vec<String> = parts
            .next()
            .map(|g| g.trim_matches('"'))
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(String::from)
            .collect();
        out.push(Account {
            token: token.to_string(),
            user: UserInfo::authenticated(name, uid, groups),
        });
    }
    Ok(out)
}

fn render(accounts: &[Account]) -> String {
    let mut out = String::from(
        "# The sandbox API's users (kube-apiserver --token-auth-file format).\n\
         # token,user,uid,\"groups\" -- delete this file to issue new tokens.\n",
    );
    for a in accounts {
        let groups: Vec<&str> = a
            .user
            .groups
            .iter()
            .map(String::as_str)
            .filter(|g| *g != super::AUTHENTICATED)
            .collect();
        out.push_str(&format!(
            "{},{},{},\"{}\"\n",
            a.token,
            a.user.username,
            a.user.uid,
            groups.join(",")
        ));
    }
    out
}

/// Writes `text` atomically, readable only by the owner.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<()> {
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
        f.write_all(text.as_bytes()).map_err(|e| io("write", e))?;
        f.sync_all().map_err(|e| io("sync", e))?;
    }
    fs::rename(&tmp, path).map_err(|e| io("write", e))
}

impl Users {
    /// Reads `<state_dir>/tokens.csv`, adding the administrator and the demo users if they
    /// are missing (a fresh sandbox, or one from before sign-in existed).
    pub fn load_or_create(state_dir: &Path) -> Result<Users> {
        let file = state_dir.join("tokens.csv");
        let mut accounts = match fs::read_to_string(&file) {
            Ok(text) => parse(&text).map_err(|why| {
                SandboxError::io(
                    format!(
                        "{} is not a token file ({why}); fix it, or delete it to issue new tokens",
                        file.display()
                    ),
                    std::io::Error::other(why.clone()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(SandboxError::io(
                    format!("cannot read {}", file.display()),
                    e,
                ));
            }
        };
        let mut changed = false;
        let wanted = std::iter::once((ADMIN, "system:masters")).chain(DEMO_USERS);
        for (name, group) in wanted {
            if !accounts.iter().any(|a| a.user.username == name) {
                accounts.push(Account {
                    token: new_token(),
                    user: UserInfo::authenticated(name, &new_uid(), vec![group.to_string()]),
                });
                changed = true;
            }
        }
        if changed {
            write_private(&file, &render(&accounts))?;
        }
        Ok(Users { accounts, file })
    }

    /// Who a bearer token belongs to. Compares every token in constant time, so the
    /// answer's timing does not tell how much of a guess was right.
    pub fn authenticate(&self, token: &str) -> Option<&UserInfo> {
        let mut found = None;
        for a in &self.accounts {
            if constant_time_eq(a.token.as_bytes(), token.as_bytes()) {
                found = Some(&a.user);
            }
        }
        found
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The administrator's token (the console's own kubeconfig).
    pub fn admin_token(&self) -> &str {
        self.token_of(ADMIN).unwrap_or_default()
    }

    pub fn token_of(&self, user: &str) -> Option<&str> {
        self.accounts
            .iter()
            .find(|a| a.user.username == user)
            .map(|a| a.token.as_str())
    }

    /// Where the token file is.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_state_gets_an_admin_and_two_demo_users_that_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let users = Users::load_or_create(dir.path()).unwrap();
        let admin = users.authenticate(users.admin_token()).unwrap();
        assert_eq!(admin.username, ADMIN);
        assert!(admin.groups.iter().any(|g| g == "system:masters"));
        assert!(admin.groups.iter().any(|g| g == "system:authenticated"));
        let alice = users.token_of("alice").unwrap().to_string();
        assert_eq!(alice.len(), 48);
        assert_ne!(Some(alice.as_str()), users.token_of("bob"));
        assert!(users.authenticate("sluice-sandbox-token").is_none());
        assert!(users.authenticate("").is_none());

        let again = Users::load_or_create(dir.path()).unwrap();
        assert_eq!(again.token_of("alice"), Some(alice.as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(users.file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the token file is private");
        }
    }

    #[test]
    fn reads_kube_apiserver_token_files_and_says_what_is_wrong() {
        let accounts = parse("# c\nt1,carol,u1,\"ops,dev\"\nt2,dave,u2\n").unwrap();
        assert_eq!(accounts[0].user.username, "carol");
        assert_eq!(
            accounts[0].user.groups,
            ["ops", "dev", "system:authenticated"]
        );
        assert_eq!(accounts[1].user.groups, ["system:authenticated"]);
        let err = parse("just-a-token\n").unwrap_err();
        assert!(
            err.contains("line 1") && err.contains("token,user,uid"),
            "{err}"
        );
        let round = parse(&render(&accounts)).unwrap();
        assert_eq!(round, accounts);
    }

    #[test]
    fn a_broken_token_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tokens.csv"), "garbage\n").unwrap();
        let err = Users::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("tokens.csv") && err.contains("delete it"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("tokens.csv")).unwrap(),
            "garbage\n"
        );
    }
}
