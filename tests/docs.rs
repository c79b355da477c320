//! The documents a reader follows: the README, CONTRIBUTING.md and the guide
//! (book/, mdBook). Every relative link and picture leads to a file that
//! exists, and every `#anchor` to a heading of it; every chapter is in the
//! guide's table of contents and every entry there is a chapter; every
//! figure in docs/figures is shown somewhere; the page's links into the
//! guide lead to chapters; the README stays short and the notebooks' code
//! lines fit a screen. (The README's and the guide's Rust examples are
//! compiled as doctests, from src/lib.rs.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every markdown file of the guide, under book/src.
fn chapters() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // figures/ is docs/figures, linked into the guide.
            if path.is_dir() && !path.is_symlink() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(ROOT).join("book/src"), &mut out);
    out.sort();
    out
}

/// The documents whose links are checked.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![
        Path::new(ROOT).join("README.md"),
        Path::new(ROOT).join("CONTRIBUTING.md"),
    ];
    docs.extend(chapters());
    docs
}

/// The targets of the markdown links and pictures of `text` (`[a](t)`,
/// `![a](t "title")`), outside code blocks and code spans.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Code spans may hold "](" of their own.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            out.push(target.to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// The anchors of a markdown file's headings, as mdBook and GitHub make
/// them: lowercase, spaces become `-`, other punctuation goes.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let id: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        out.insert(id);
    }
    out
}

#[test]
fn every_link_in_the_readme_and_the_guide_leads_somewhere() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(ROOT).unwrap().display().to_string();
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(path)
            };
            if !file.exists() {
                broken.push(format!("{name}: {target} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{name}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked > 50,
        "only {checked} links found: is the parser right?"
    );
}

#[test]
fn the_guides_table_of_contents_holds_every_chapter() {
    let book = Path::new(ROOT).join("book/src");
    let summary = std::fs::read_to_string(book.join("SUMMARY.md")).unwrap();
    let listed: BTreeSet<PathBuf> = links(&summary).iter().map(|l| book.join(l)).collect();
    for listed in &listed {
        assert!(
            listed.is_file(),
            "SUMMARY.md lists {}, which is missing",
            listed.display()
        );
    }
    for chapter in chapters() {
        if chapter.ends_with("SUMMARY.md") {
            continue;
        }
        assert!(
            listed.contains(&chapter),
            "{} is not in book/src/SUMMARY.md",
            chapter.display()
        );
    }
}

#[test]
fn every_figure_is_shown_somewhere() {
    let mut shown = String::new();
    for doc in documents() {
        shown += &std::fs::read_to_string(doc).unwrap();
    }
    let mut unshown = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs/figures")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if !shown.contains(&format!("figures/{name})")) {
            unshown.push(name);
        }
    }
    assert!(
        unshown.is_empty(),
        "figures in docs/figures that no document shows: {unshown:?}"
    );
}

#[test]
fn the_pages_links_into_the_guide_lead_to_chapters() {
    let page = std::fs::read_to_string(Path::new(ROOT).join("web/index.html")).unwrap();
    let mut found = 0;
    for part in page.split("href=\"guide/").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        let chapter = match target {
            "index.html" => "introduction.md".to_string(),
            t => t.replace(".html", ".md"),
        };
        assert!(
            Path::new(ROOT).join("book/src").join(&chapter).is_file(),
            "web/index.html links to guide/{target}, but book/src has no {chapter}"
        );
        found += 1;
    }
    assert!(found >= 5, "the page links to {found} chapters");
}

#[test]
fn the_readme_is_short() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines: the long text belongs in book/"
    );
}

#[test]
fn notebook_code_lines_fit_a_screen() {
    let mut long = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("notebooks")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ipynb") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let notebook: serde_json::Value = serde_json::from_str(&text).unwrap();
        for cell in notebook["cells"].as_array().unwrap() {
            if cell["cell_type"] != "code" {
                continue;
            }
            for line in cell["source"].as_array().unwrap() {
                let line = line.as_str().unwrap().trim_end_matches('\n');
                if line.chars().count() > 100 {
                    long.push(format!("{}: {line}", path.display()));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "code lines over 100 characters:\n{}",
        long.join("\n")
    );
}
