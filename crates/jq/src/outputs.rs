//! The outputs of one evaluation, as the worker wrote them: compact JSON, each followed
//! by a newline (compact JSON holds no raw newline).

/// Every output of one evaluation, in order, as compact JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outputs {
    text: Vec<u8>,
}

impl Outputs {
    /// From a worker's reply: outputs each followed by a newline.
    pub(crate) fn from_text(text: Vec<u8>) -> Self {
        Self { text }
    }

    /// How many outputs there are.
    pub fn len(&self) -> usize {
        self.text.iter().filter(|&&b| b == b'\n').count()
    }

    /// Whether the program yielded nothing.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Each output's JSON text.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let text = self.text.strip_suffix(b"\n").unwrap_or(&self.text);
        text.split(|&b| b == b'\n').filter(move |_| !self.text.is_empty())
    }

    /// The one output's JSON text; when there are none or several, how many.
    pub fn into_single(mut self) -> Result<Vec<u8>, usize> {
        match self.len() {
            1 => {
                self.text.pop();
                Ok(self.text)
            }
            n => Err(n),
        }
    }

    /// Each output parsed.
    pub(crate) fn values(&self) -> Result<Vec<serde_json::Value>, serde_json::Error> {
        self.iter().map(serde_json::from_slice).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_lines() {
        let none = Outputs::from_text(Vec::new());
        assert_eq!((none.len(), none.is_empty(), none.iter().count()), (0, true, 0));
        assert_eq!(none.into_single(), Err(0));
        let one = Outputs::from_text(b"{\"a\":\"x\\ny\"}\n".to_vec());
        assert_eq!(one.iter().collect::<Vec<_>>(), vec![&b"{\"a\":\"x\\ny\"}"[..]]);
        assert_eq!(one.values().unwrap(), vec![serde_json::json!({"a": "x\ny"})]);
        assert_eq!(one.into_single(), Ok(b"{\"a\":\"x\\ny\"}".to_vec()));
        let two = Outputs::from_text(b"1\n\"\"\n".to_vec());
        assert_eq!(two.iter().collect::<Vec<_>>(), vec![&b"1"[..], &b"\"\""[..]]);
        assert_eq!(two.into_single(), Err(2));
    }
}
