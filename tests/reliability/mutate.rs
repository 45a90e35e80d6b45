//! The seeded mutator of the spec loader fuzz: each mutant is a repository spec with one to
//! three mutations, chosen to reach the places where input has hurt before (arithmetic,
//! nesting, special files, NULs, huge values) as well as plain corruption.

/// splitmix64: small, seedable, and good enough to spread mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values that have broken evaluators: overflow, division by zero, non-finite results,
/// special files, references that loop.
const HAZARDS: &[&str] = &[
    "1 / 0",
    "1 % 0",
    "10 % (2 - 2)",
    "0 / 0",
    "18446744073709551615 + 1",
    "18446744073709551615 * 18446744073709551615",
    "-9223372036854775808 - 1",
    "-9223372036854775808 % -1",
    "4294967296 * 4294967296",
    "1e308 * 10",
    "1e308 + 1e308",
    "-1e308 - 1e308",
    "1.5 % 0",
    "1e308 / 1e-308",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "1e999",
    "-0",
    "file(\"/dev/zero\")",
    "file(\"/dev/null\")",
    "file(\"../motd.txt\")",
    "file(\"../../modules\")",
    "file(\"missing\")",
    "\"\\u0000\"",
    "\"a\\u0000b\"",
    "local.web_port / 0",
    "local.nope",
    "var.ami * 2",
    "cidrsubnet(\"10.0.0.0/16\", 4294967295, 0)",
    "cidrsubnet(\"10.0.0.0/16\", 1e300, 1e300)",
    "format(\"%d\", 1e308)",
    "ceil(1e308)",
    "tonumber(\"1e999\")",
    "min()",
    "length(null)",
    "[for x in [1, 2] : x / 0]",
    "\"${1 / 0}\"",
    "\"%{ for x in [0] }${10 % x}%{ endfor }\"",
    "{ for k, v in { a = 1 } : k => v % 0 }",
    "[1, 2][18446744073709551615]",
    "[1, 2][-1]",
    "{}.a.b.c",
    "true ? 1 : 1 / 0",
    "!1",
    "-\"x\"",
];

/// Fragments dropped in anywhere: delimiters, references, templates, odd characters.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "${",
    "%{",
    "}",
    "=",
    ",",
    ":",
    "?",
    "=>",
    "...",
    "local.",
    "var.",
    "module.workers.",
    "cluster.web.",
    "dns.api",
    "<<EOT\n",
    "\nEOT\n",
    "#",
    "//",
    "/*",
    "*/",
    "\\",
    "é",
    "\u{202e}",
    "𝔘",
    "\t",
    "\r\n",
    "\0",
    "\u{feff}",
    "locals { x = local.y\n y = local.x }\n",
    "region \"us-east-1\" {}\n",
    "service \"x\" {}\n",
    "module \"again\" { source = \"../../modules/worker-tier\"\n image = \"ami-1\" }\n",
    "module \"self\" { source = \".\" }\n",
];

const REPLACEMENTS: &[&str] = &[
    "eu-west-9",
    "us-gov-west-1",
    "large",
    "r6g.large",
    "db.m6i",
    "0s",
    "10.0.0.0/8",
    "10.0.0.1/16",
    "primary",
    "",
];

/// `original` with one to three mutations, and their names.
pub fn mutate(rng: &mut Rng, original: &[u8]) -> (Vec<u8>, Vec<&'static str>) {
    let mut bytes = original.to_vec();
    let mut applied = Vec::new();
    for _ in 0..=rng.below(3) {
        applied.push(mutate_once(rng, &mut bytes));
    }
    (bytes, applied)
}

fn mutate_once(rng: &mut Rng, b: &mut Vec<u8>) -> &'static str {
    match rng.below(14) {
        0 => {
            b.truncate(rng.below(b.len() + 1));
            "truncate"
        }
        1 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] = rng.below(256) as u8;
            "flip a byte"
        }
        2 => {
            let hazard = *rng.pick(HAZARDS);
            replace_value(rng, b, hazard);
            "hazardous value"
        }
        3 => {
            let depth = 1 + rng.below(200);
            let (open, close) =
                *rng.pick(&[("[", "]"), ("(", ")"), ("{ a = ", " }"), ("\"${", "}\"")]);
            let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            replace_value(rng, b, &nested);
            "deep nesting"
        }
        4 => {
            let at = rng.below(b.len() + 1);
            let token = rng.pick(TOKENS).as_bytes();
            b.splice(at..at, token.iter().copied());
            "insert a token"
        }
        5 => {
            shuffle_lines(rng, b, false);
            "delete a line"
        }
        6 => {
            shuffle_lines(rng, b, true);
            "duplicate a line"
        }
        7 => {
            swap_words(rng, b);
            "swap two words"
        }
        8 => {
            let s = format!("\"{}\"", rng.pick(REPLACEMENTS));
            replace_string(rng, b, &s);
            "replace a string"
        }
        9 => {
            let long = format!("\"{}\"", "a".repeat(1 + rng.below(200_000)));
            replace_string(rng, b, &long);
            "long string"
        }
        10 => {
            let copy = b.clone();
            b.extend_from_slice(b"\n");
            b.extend_from_slice(&copy);
            "duplicate the file"
        }
        11 => {
            let at = rng.below(b.len() + 1);
            let garbage: Vec<u8> = (0..1 + rng.below(64))
                .map(|_| rng.below(256) as u8)
                .collect();
            b.splice(at..at, garbage);
            "insert garbage"
        }
        12 => {
            replace_number(rng, b);
            "replace a number"
        }
        _ => {
            let at = rng.below(b.len() + 1);
            b.insert(at, 0);
            "insert a NUL byte"
        }
    }
}

/// Replaces the value after a random ` = ` with `value`, up to the end of its line.
fn replace_value(rng: &mut Rng, b: &mut Vec<u8>, value: &str) {
    let spots = find_all(b, b"= ");
    if spots.is_empty() {
        return;
    }
    let start = spots[rng.below(spots.len())] + 2;
    let end = b[start..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |i| start + i);
    b.splice(start..end, value.bytes());
}

/// Replaces a random string literal (`"..."` on one line) with `literal`.
fn replace_string(rng: &mut Rng, b: &mut Vec<u8>, literal: &str) {
    let quotes = find_all(b, b"\"");
    if quotes.len() < 2 {
        return;
    }
    let i = rng.below(quotes.len() - 1);
    let (start, end) = (quotes[i], quotes[i + 1] + 1);
    if b[start..end].contains(&b'\n') {
        return;
    }
    b.splice(start..end, literal.bytes());
}

fn replace_number(rng: &mut Rng, b: &mut Vec<u8>) {
    let digits: Vec<usize> = (0..b.len())
        .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()))
        .collect();
    if digits.is_empty() {
        return;
    }
    let start = digits[rng.below(digits.len())];
    let end = (start..b.len())
        .find(|&i| !b[i].is_ascii_digit())
        .unwrap_or(b.len());
    let n = *rng.pick(&[
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775808",
        "0",
        "1e308",
        "0.000000001",
        "4294967296",
        "65536",
    ]);
    b.splice(start..end, n.bytes());
}

fn shuffle_lines(rng: &mut Rng, b: &mut Vec<u8>, duplicate: bool) {
    let mut lines: Vec<Vec<u8>> = b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
    let i = rng.below(lines.len());
    if duplicate {
        let line = lines[i].clone();
        lines.insert(rng.below(lines.len() + 1), line);
    } else {
        lines.remove(i);
    }
    *b = lines.join(&b'\n');
}

fn swap_words(rng: &mut Rng, b: &mut Vec<u8>) {
    let mut words: Vec<Vec<u8>> = b.split(|c| *c == b' ').map(<[u8]>::to_vec).collect();
    let (i, j) = (rng.below(words.len()), rng.below(words.len()));
    words.swap(i, j);
    *b = words.join(&b' ');
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}
