//! The software sets of a bundle (SWUpdate's `software.<set>.<mode>` collections, selected with
//! `-e set,mode`), listed by `updraft bundle inspect` when no `--select` is given.

use updraft_swu::libconfig::Value;
use updraft_swu::sw_description::SwDescription;

/// One selectable collection: `set,mode`, the board it is nested under, and its images.
pub struct SoftwareSet {
    pub selection: String,
    pub board: Option<String>,
    /// `file -> device` (or the handler's target) of each image, or why the set does not resolve.
    pub images: Result<Vec<String>, String>,
}

/// Every `software.<set>.<mode>` and `software.<board>.<set>.<mode>` group that holds images,
/// files or scripts, in the order sw-description lists them.
pub fn software_sets(description: &SwDescription) -> Vec<SoftwareSet> {
    let mut found = Vec::new();
    collect(&description.software, &mut Vec::new(), &mut found);
    found
        .into_iter()
        .filter_map(|path| {
            let (board, set, mode) = match path.as_slice() {
                [set, mode] => (None, set, mode),
                [board, set, mode] => (Some(board.clone()), set, mode),
                _ => return None,
            };
            let selection = format!("{set},{mode}");
            let images = description
                .select(board.as_deref(), Some(&selection))
                .map(|sel| {
                    sel.artifacts()
                        .map(|a| {
                            let target = a.device.as_deref().or(a.path.as_deref()).or(a.volume.as_deref());
                            format!(
                                "{} ({}{})",
                                a.filename.as_deref().unwrap_or("(no file)"),
                                a.handler,
                                target.map(|t| format!(" -> {t}")).unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .map_err(|e| e.to_string());
            Some(SoftwareSet {
                selection,
                board,
                images,
            })
        })
        .collect()
}

const CONTENT: [&str; 3] = ["images", "files", "scripts"];

fn collect(node: &Value, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    let Value::Group(members) = node else {
        return;
    };
    if !path.is_empty() && members.iter().any(|(k, _)| CONTENT.contains(&k.as_str())) {
        found.push(path.clone());
    }
    if path.len() >= 3 {
        return;
    }
    for (key, value) in members {
        if CONTENT.contains(&key.as_str()) {
            continue;
        }
        path.push(key.clone());
        collect(value, path, found);
        path.pop();
    }
}
