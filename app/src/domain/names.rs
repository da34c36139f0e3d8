//! Kubernetes name rules, checked before anything is sent to the cluster so a person gets
//! a message that says what is wrong with the name and how to fix it.

/// RFC 1123 label: namespaces, Services, version numbers used in names.
pub fn check_dns_label(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!(
            "{what} is empty: enter a name such as \"demo-project\"."
        ));
    }
    if name.len() > 63 {
        return Err(format!(
            "{what} \"{name}\" is {} characters long: at most 63 are allowed.",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{what} \"{name}\" contains '{c}': use only lowercase letters, digits and '-'."
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!(
            "{what} \"{name}\" must start and end with a lowercase letter or digit."
        ));
    }
    Ok(())
}

/// RFC 1123 subdomain: most object names (an HTTPRoute's), dot-separated labels, at most
/// 253 characters.
pub fn check_dns_subdomain(what: &str, name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "{what} name is {} characters long: at most 253 are allowed.",
            name.len()
        ));
    }
    if name.is_empty() {
        return Err(format!("{what} name is empty."));
    }
    for part in name.split('.') {
        check_dns_label(what, part).map_err(|e| {
            format!("{e} (a name is dot-separated parts of lowercase letters, digits and '-')")
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_subdomains_part_by_part() {
        assert_eq!(
            check_dns_subdomain("The HTTPRoute", "reviews.split-1"),
            Ok(())
        );
        assert!(check_dns_subdomain("The HTTPRoute", "Reviews").is_err());
        assert!(check_dns_subdomain("The HTTPRoute", "a..b").is_err());
        assert!(check_dns_subdomain("The HTTPRoute", &"a".repeat(254)).is_err());
    }

    #[test]
    fn accepts_dns_labels() {
        for ok in ["demo-project", "v2", "a", "reviews-v1"] {
            assert_eq!(check_dns_label("Project", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn says_what_is_wrong_and_how_to_fix_it() {
        let e = check_dns_label("Project", "Demo_Project").unwrap_err();
        assert_eq!(
            e,
            "Project \"Demo_Project\" contains 'D': use only lowercase letters, digits and '-'."
        );
        assert!(
            check_dns_label("Project", "")
                .unwrap_err()
                .contains("is empty")
        );
        assert!(
            check_dns_label("Project", "-x")
                .unwrap_err()
                .contains("start and end")
        );
        assert!(
            check_dns_label("Project", &"a".repeat(64))
                .unwrap_err()
                .contains("at most 63")
        );
    }
}
