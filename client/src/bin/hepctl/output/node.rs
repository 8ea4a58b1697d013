//! [`Node`]: a JSON document in the making, which both printers take.

/// A JSON value whose mappings keep their order: the JSON printer writes Go's struct order,
/// the YAML printer sorts as go-yaml does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// `null`.
    Null,
    /// A number; the documents have only integers.
    Int(i64),
    /// A string.
    Str(String),
    /// An array.
    Seq(Vec<Node>),
    /// An object, in the order to print (JSON) or any order (YAML).
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A string node.
    pub(crate) fn str(text: impl AsRef<str>) -> Self {
        Self::Str(text.as_ref().to_owned())
    }
}
