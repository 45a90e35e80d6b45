//! `standby fmt`: the canonical layout of a spec file, comments kept.
//!
//! Invariant: formatting only changes whitespace (indentation by nesting, `=` aligned in a
//! run of attributes, trailing spaces, blank-line runs, a final newline); the result is
//! parsed again and must mean exactly what the input meant, or nothing is rewritten.

/// Where a scan is, for counting brackets that are code (not in strings or comments).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Code,
    Str,
    /// Inside `${ ... }` of a string: code again, until the matching `}`.
    Interp(u32),
    BlockComment,
}

/// Formats `src`; `Err` with a message when it is not valid HCL.
pub fn format_source(src: &str) -> Result<String, String> {
    let before: hcl::Body = hcl::parse(src).map_err(|e| e.to_string())?;
    let out = layout(src);
    let after: hcl::Body =
        hcl::parse(&out).map_err(|e| format!("formatting broke the file: {e}"))?;
    if before != after {
        return Err("formatting would change the meaning of the file; it was left as it is".into());
    }
    Ok(out)
}

fn layout(src: &str) -> String {
    let mut lines: Vec<(usize, String, bool)> = Vec::new(); // (depth, text, verbatim)
    let mut depth: i64 = 0;
    let mut stack: Vec<Mode> = Vec::new();
    let mut heredoc: Option<String> = None;
    for raw in src.lines() {
        if let Some(end) = &heredoc {
            // Heredoc bodies are content: kept byte for byte.
            if raw.trim() == end {
                heredoc = None;
            }
            lines.push((0, raw.to_string(), true));
            continue;
        }
        let in_comment = stack.last() == Some(&Mode::BlockComment);
        let text = raw.trim();
        let leading_close = text
            .chars()
            .take_while(|c| matches!(c, '}' | ']' | ')'))
            .count() as i64;
        let line_depth = if in_comment {
            depth
        } else {
            (depth - leading_close).max(0)
        };
        let (delta, opens_heredoc) = scan(text, &mut stack);
        depth = (depth + delta).max(0);
        lines.push((
            line_depth as usize,
            if in_comment {
                raw.trim_end().to_string()
            } else {
                text.to_string()
            },
            in_comment,
        ));
        if let Some(tag) = opens_heredoc {
            heredoc = Some(tag);
        }
    }
    align(&mut lines);
    let mut out = String::new();
    let mut blank = 0;
    for (d, text, verbatim) in &lines {
        if text.is_empty() && !verbatim {
            blank += 1;
            continue;
        }
        if blank > 0 && !out.is_empty() {
            out.push('\n');
        }
        blank = 0;
        if *verbatim {
            out.push_str(text);
        } else {
            out.push_str(&"  ".repeat(*d));
            out.push_str(text);
        }
        out.push('\n');
    }
    out
}

/// Net bracket depth change of one line, and a heredoc it opens (`<<EOF`, `<<-EOF`).
fn scan(line: &str, stack: &mut Vec<Mode>) -> (i64, Option<String>) {
    let mut delta = 0i64;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match stack.last().copied().unwrap_or(Mode::Code) {
            Mode::BlockComment => {
                if c == '*' && next == Some('/') {
                    stack.pop();
                    i += 1;
                }
            }
            Mode::Str => match c {
                '\\' => i += 1,
                '"' => {
                    stack.pop();
                }
                '$' | '%' if next == Some('{') => {
                    stack.push(Mode::Interp(0));
                    i += 1;
                }
                _ => {}
            },
            mode @ (Mode::Code | Mode::Interp(_)) => match c {
                '"' => stack.push(Mode::Str),
                '#' => break,
                '/' if next == Some('/') => break,
                '/' if next == Some('*') => {
                    stack.push(Mode::BlockComment);
                    i += 1;
                }
                '<' if next == Some('<') && mode == Mode::Code => {
                    let rest: String = chars[i + 2..].iter().collect();
                    let tag: String = rest
                        .trim_start_matches('-')
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !tag.is_empty() {
                        return (delta, Some(tag));
                    }
                }
                '{' | '[' | '(' => match mode {
                    Mode::Interp(n) => {
                        *stack.last_mut().expect("in an interpolation") = Mode::Interp(n + 1)
                    }
                    _ => delta += 1,
                },
                '}' | ']' | ')' => match mode {
                    Mode::Interp(0) => {
                        stack.pop();
                    }
                    Mode::Interp(n) => {
                        *stack.last_mut().expect("in an interpolation") = Mode::Interp(n - 1)
                    }
                    _ => delta -= 1,
                },
                _ => {}
            },
        }
        i += 1;
    }
    (delta, None)
}

/// Aligns the `=` of consecutive one-line attributes at the same depth, as Terraform does.
fn align(lines: &mut [(usize, String, bool)]) {
    let key_of = |text: &str| -> Option<usize> {
        let eq = text.find('=')?;
        let key = text[..eq].trim_end();
        let simple = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '"')
            && !text[eq..].starts_with("==");
        simple.then_some(key.chars().count())
    };
    let mut i = 0;
    while i < lines.len() {
        let Some(_) = (!lines[i].2).then(|| key_of(&lines[i].1)).flatten() else {
            i += 1;
            continue;
        };
        let depth = lines[i].0;
        let mut j = i;
        while j < lines.len() && !lines[j].2 && lines[j].0 == depth && key_of(&lines[j].1).is_some()
        {
            j += 1;
        }
        let width = (i..j)
            .filter_map(|k| key_of(&lines[k].1))
            .max()
            .unwrap_or(0);
        for line in &mut lines[i..j] {
            let text = &line.1;
            let eq = text.find('=').expect("an attribute line has `=`");
            let key = text[..eq].trim_end();
            let value = text[eq + 1..].trim_start();
            line.1 = format!("{key}{} = {value}", " ".repeat(width - key.chars().count()));
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_aligns_and_keeps_comments() {
        let src = "# the service\nservice \"a\" {\nrto = \"15m\" # objective\n    rpo=\"5m\"\n  tags = {\nteam = \"x\"\n  }\n}\n\n\n\ncluster \"web\" {\n  size = 2\n  image = \"ami-1\" // pinned\n  /* a block\n     comment */\n  port = 443\n}";
        let want = "# the service\nservice \"a\" {\n  rto  = \"15m\" # objective\n  rpo  = \"5m\"\n  tags = {\n    team = \"x\"\n  }\n}\n\ncluster \"web\" {\n  size  = 2\n  image = \"ami-1\" // pinned\n  /* a block\n     comment */\n  port = 443\n}\n";
        let got = format_source(src).unwrap();
        assert_eq!(got, want);
        assert_eq!(
            format_source(&got).unwrap(),
            got,
            "formatting is idempotent"
        );
    }

    #[test]
    fn strings_templates_and_heredocs_are_left_alone() {
        let src = "locals {\n  a = \"${lower(\"X}{\")} {\"\n  b = <<EOT\n  keep   this\n}\nEOT\n  c = [\n1,\n2,\n  ]\n}\n";
        let got = format_source(src).unwrap();
        assert!(got.contains("  a = \"${lower(\"X}{\")} {\"\n"), "{got}");
        assert!(got.contains("\n  keep   this\n}\nEOT\n"), "{got}");
        assert!(got.contains("  c = [\n    1,\n    2,\n  ]\n"), "{got}");
    }

    #[test]
    fn invalid_input_is_an_error_not_a_panic() {
        assert!(format_source("service \"a\" {").is_err());
        assert!(format_source("\u{0}\u{1}{{{]]]").is_err());
    }
}
