//! Tamper-proof state: an HMAC-SHA256 over the definition's name and version, the
//! instance id, the state and the step (transitions so far), so that a producer cannot
//! forge a state, move one instance's state to another, replay it against another
//! definition, or present an old state as a newer step ([`crate::replay`] refuses the
//! same step twice).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::definition::Definition;

/// Signs and checks states with `STATE_SECRET`.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(secret: &str) -> Self {
        Self { key: secret.as_bytes().to_vec() }
    }

    fn mac(&self, definition: &Definition, id: &str, state: &str, step: u64) -> Hmac<Sha256> {
        // `new_from_slice` takes keys of any length for HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        for part in [definition.name.as_str(), definition.version.as_str(), id, state] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.update(&step.to_be_bytes());
        mac
    }

    /// The signature, as lower-case hex.
    pub fn sign(&self, definition: &Definition, id: &str, state: &str, step: u64) -> String {
        self.mac(definition, id, state, step).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `signature` signs this state (compared in constant time).
    pub fn verify(&self, definition: &Definition, id: &str, state: &str, step: u64, signature: &str) -> bool {
        let Some(bytes) = hex(signature) else { return false };
        self.mac(definition, id, state, step).verify_slice(&bytes).is_ok()
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_definition_instance_state_and_step() {
        let definition = Definition::parse("'': {events: {Go: Done}}\nDone: {}", Some("m"), Some("1")).unwrap();
        let signer = Signer::new("s3cret");
        let sig = signer.sign(&definition, "id-1", "Done", 1);
        assert_eq!(sig.len(), 64);
        assert!(signer.verify(&definition, "id-1", "Done", 1, &sig));
        assert!(!signer.verify(&definition, "id-2", "Done", 1, &sig), "another instance");
        assert!(!signer.verify(&definition, "id-1", "", 1, &sig), "another state");
        assert!(!signer.verify(&definition, "id-1", "Done", 2, &sig), "another step");
        assert!(!Signer::new("other").verify(&definition, "id-1", "Done", 1, &sig), "another key");
        let mut v2 = definition.clone();
        v2.version = "2".into();
        assert!(!signer.verify(&v2, "id-1", "Done", 1, &sig), "another version");
        assert!(!signer.verify(&definition, "id-1", "Done", 1, "zz"));
        // Lengths are part of the input: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(signer.sign(&definition, "ab", "c", 0), signer.sign(&definition, "a", "bc", 0));
    }
}
