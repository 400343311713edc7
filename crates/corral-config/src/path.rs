//! Field paths as users read them: `processes.api.environment[2]`.

/// Joins path segments; numeric segments (list indices) are written as `[n]`.
pub fn join(segments: &[String]) -> String {
    let mut out = String::new();
    for s in segments {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(s);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(s);
        }
    }
    out
}

/// `serde_path_to_error`'s path in the same notation.
pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> String {
    join(&segments_from_serde(path))
}

/// `serde_path_to_error`'s path as segments.
pub(crate) fn segments_from_serde(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect()
}

/// `serde_ignored`'s path as segments.
pub(crate) fn from_ignored(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut v = from_ignored(parent);
            v.push(index.to_string());
            v
        }
        Path::Map { parent, key } => {
            let mut v = from_ignored(parent);
            v.push(key.clone());
            v
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            from_ignored(parent)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn joins_indices_in_brackets() {
        let s = |v: &[&str]| super::join(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["processes", "api", "environment", "2"]), "processes.api.environment[2]");
        assert_eq!(s(&["processes"]), "processes");
        assert_eq!(s(&[]), "");
    }
}
