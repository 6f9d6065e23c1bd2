//! An OpenSSH public key line (`authorized_keys` format): `<type> <base64 key> [comment]`, whose
//! key, decoded, starts with the same type name (RFC 4253 wire format: a 4-byte length, then it).

/// Key types OpenSSH accepts in authorized_keys (ssh-dss is no longer accepted by default).
const TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

pub fn is_public_key(line: &str) -> bool {
    if line.contains(['\n', '\r']) {
        return false;
    }
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(body)) = (parts.next(), parts.next()) else { return false };
    if !TYPES.contains(&kind) {
        return false;
    }
    let Some(key) = base64(body) else { return false };
    let Some(len) = key.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize) else { return false };
    key.get(4..4 + len) == Some(kind.as_bytes()) && key.len() > 4 + len
}

/// Standard base64 with padding, as OpenSSH writes it.
fn base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_every_type_are_read_and_others_refused() {
        let example = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJlcGxhY2UtbWUtd2l0aC15b3VyLW93bi1wdWJsaWMta2V5 admin@laptop";
        assert!(is_public_key(example));
        assert!(is_public_key(example.trim_end_matches(" admin@laptop")), "the comment is optional");
        for bad in [
            "ssh-hello",
            "ssh-ed25519 !!!notbase64!!! me",
            "ssh-ed25519",
            // The body of an ed25519 key under another type name.
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHJlcGxhY2UtbWUtd2l0aC15b3VyLW93bi1wdWJsaWMta2V5",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 x",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJlcGxhY2UtbWUtd2l0aC15b3VyLW93bi1wdWJsaWMta2V5\nssh-rsa x",
        ] {
            assert!(!is_public_key(bad), "{bad}");
        }
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64("AAAAC3NzaC1lZDI1NTE5").unwrap()[4..], *b"ssh-ed25519");
        assert_eq!(base64("aGk=").unwrap(), b"hi");
        assert_eq!(base64("aA==").unwrap(), b"h");
        assert!(base64("a===").is_none() && base64("aGk").is_none() && base64("a=Gk").is_none());
    }
}
