//! The regular expressions of content rules are matched by Envoy with RE2, and Istio
//! checks them with Go's `regexp` (the same syntax) before it accepts a VirtualService.
//! Rust's `regex` crate is close but not the same: it has class set operations (`&&`,
//! `--`, `~~`), word boundaries `\<` `\>` `\b{start}`, the flags `x`, `u` and `R`, nested
//! and stacked repetitions (`a**`, `a*+`), repetition counts above 1000 and long Unicode
//! property names, none of which RE2 has (some of which RE2 reads as plain characters);
//! RE2 has `\Q…\E`, octal escapes and repeated flags, which the crate refuses. So a rule's
//! regex is first read here, by RE2's own grammar (`re2/parse.cc`, Perl-like as Envoy
//! configures it): what RE2 or Istio would refuse, or would read differently from what
//! other engines mean, is refused with the construct named; what passes is handed back
//! spelled in the `regex` crate's syntax, so the server can compile it as a second
//! opinion. Pure and dependency-free: the browser runs the same check.

use std::fmt;

/// RE2's limit on a repetition count, and on the product of nested counts.
pub const MAX_REPEAT: u32 = 1000;

/// Why RE2 (as Envoy and Istio use it) does not take a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Re2Error {
    /// Something other regex engines have that RE2 refuses or reads differently.
    Unsupported {
        /// The construct, e.g. "class intersection `&&`".
        construct: String,
        /// How to write it for RE2, if there is a way (starts with a space, or empty).
        hint: String,
    },
    /// Not a regular expression in any dialect (unbalanced, nothing to repeat, ...).
    Invalid(String),
}

impl fmt::Display for Re2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Re2Error::Unsupported { construct, hint } => {
                write!(
                    f,
                    "RE2, which Envoy uses, does not support {construct}{hint}"
                )
            }
            Re2Error::Invalid(what) => write!(f, "the regular expression is invalid: {what}"),
        }
    }
}

fn unsupported(construct: impl Into<String>, hint: &str) -> Re2Error {
    Re2Error::Unsupported {
        construct: construct.into(),
        hint: if hint.is_empty() {
            String::new()
        } else {
            format!(": {hint}")
        },
    }
}

fn invalid(what: impl Into<String>) -> Re2Error {
    Re2Error::Invalid(what.into())
}

/// A pattern RE2 accepts, and the same expression in the `regex` crate's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Re2Pattern {
    rust: String,
}

impl Re2Pattern {
    /// The pattern as the `regex` crate spells it (literals escaped, `\Q…\E` and octal
    /// expanded, flags normalised): for compiling it as a second check.
    pub fn rust_syntax(&self) -> &str {
        &self.rust
    }
}

/// Reads `pattern` with RE2's grammar.
pub fn parse(pattern: &str) -> Result<Re2Pattern, Re2Error> {
    Parser::new(pattern).run()
}

/// Whether RE2 accepts `pattern`; the error names the construct it does not.
pub fn check(pattern: &str) -> Result<(), Re2Error> {
    parse(pattern).map(|_| ())
}

/// RE2's Unicode general categories (short names only).
const CATEGORIES: [&str; 37] = [
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs", "Any",
];

/// Unicode 15 scripts, as RE2 and Go name them (exact case, underscores).
const SCRIPTS: [&str; 163] = [
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// `[[:name:]]` classes.
const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// One open `(`: what it holds so far, for the nested-repetition limit.
struct Group {
    /// The largest product of counted repetitions inside the group.
    weight: u64,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    out: String,
    groups: Vec<Group>,
    /// The product of the counted repetitions inside the last atom.
    last_weight: u64,
    /// The largest weight at the top level.
    top_weight: u64,
    /// There is an atom for a repetition operator to apply to.
    can_repeat: bool,
    /// The last token was a repetition operator (RE2 refuses stacking them).
    last_repeat: Option<String>,
    names: Vec<String>,
}

impl Parser {
    fn new(pattern: &str) -> Parser {
        Parser {
            chars: pattern.chars().collect(),
            pos: 0,
            out: String::with_capacity(pattern.len() * 2),
            groups: Vec::new(),
            last_weight: 1,
            top_weight: 1,
            can_repeat: false,
            last_repeat: None,
            names: Vec::new(),
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        let want: Vec<char> = s.chars().collect();
        self.chars.get(self.pos..self.pos + want.len()) == Some(&want[..])
    }

    /// The text from `from` to the current position.
    fn text(&self, from: usize) -> String {
        self.chars[from..self.pos.min(self.chars.len())]
            .iter()
            .collect()
    }

    /// Records a finished atom (a literal, a class, a group).
    fn atom(&mut self, weight: u64) {
        self.last_weight = weight;
        self.can_repeat = true;
        self.last_repeat = None;
        self.note_weight(weight);
    }

    fn note_weight(&mut self, weight: u64) {
        match self.groups.last_mut() {
            Some(g) => g.weight = g.weight.max(weight),
            None => self.top_weight = self.top_weight.max(weight),
        }
    }

    fn literal(&mut self, c: char) {
        push_literal(&mut self.out, c);
        self.atom(1);
    }

    fn run(mut self) -> Result<Re2Pattern, Re2Error> {
        while let Some(c) = self.peek(0) {
            match c {
                '(' => self.open_group()?,
                ')' => self.close_group()?,
                '|' => {
                    self.pos += 1;
                    self.out.push('|');
                    self.can_repeat = false;
                    self.last_repeat = None;
                }
                '*' | '+' | '?' => self.simple_repeat()?,
                '{' => self.brace()?,
                '[' => self.class()?,
                '\\' => self.escape()?,
                '^' | '$' | '.' => {
                    self.pos += 1;
                    self.out.push(c);
                    self.atom(1);
                }
                _ => {
                    self.pos += 1;
                    self.literal(c);
                }
            }
        }
        if !self.groups.is_empty() {
            return Err(invalid("missing closing `)`"));
        }
        Ok(Re2Pattern { rust: self.out })
    }

    fn open_group(&mut self) -> Result<(), Re2Error> {
        let start = self.pos;
        self.pos += 1;
        if self.peek(0) == Some('*') && self.peek(1).is_some_and(|c| c.is_ascii_uppercase()) {
            return Err(unsupported("PCRE verbs such as `(*UTF)`", ""));
        }
        if self.peek(0) != Some('?') {
            self.out.push('(');
            self.push_group();
            return Ok(());
        }
        self.pos += 1;
        let group = |s: &Self| s.text(start);
        match (self.peek(0), self.peek(1)) {
            (Some('='), _) | (Some('!'), _) => Err(unsupported(
                format!("look-ahead `(?{}…)`", self.peek(0).unwrap_or('=')),
                "",
            )),
            (Some('<'), Some('=')) | (Some('<'), Some('!')) => Err(unsupported(
                format!("look-behind `(?<{}…)`", self.peek(1).unwrap_or('=')),
                "",
            )),
            (Some('>'), _) => Err(unsupported("atomic groups `(?>…)`", "")),
            (Some('#'), _) => Err(unsupported("comments `(?#…)`", "")),
            (Some('|'), _) => Err(unsupported("branch reset groups `(?|…)`", "")),
            (Some('('), _) => Err(unsupported("conditionals `(?(…)…)`", "")),
            (Some('\''), _) => Err(unsupported(
                "named groups written `(?'name'…)`",
                "write `(?P<name>…)`",
            )),
            (Some('&'), _) | (Some('+'), _) | (Some('R'), _) => Err(unsupported(
                format!("recursion and subroutine calls `{}…`", {
                    self.pos += 1;
                    group(self)
                }),
                "",
            )),
            (Some(d), _) if d.is_ascii_digit() => Err(unsupported(
                format!("recursion and subroutine calls `(?{d}…`"),
                "",
            )),
            (Some('-'), Some(d)) if d.is_ascii_digit() => Err(unsupported(
                format!("recursion and subroutine calls `(?-{d}…`"),
                "",
            )),
            (Some('P'), Some('=')) => Err(unsupported(
                "backreferences `(?P=name)`",
                "RE2 matches in linear time and cannot refer back to a group",
            )),
            (Some('P'), Some('>')) => Err(unsupported("subroutine calls `(?P>name)`", "")),
            (Some('P'), Some('<')) => {
                self.pos += 2;
                self.named_group()
            }
            (Some('P'), _) => Err(invalid(format!(
                "invalid named capture group `{}`",
                group(self)
            ))),
            (Some('<'), _) => {
                self.pos += 1;
                self.named_group()
            }
            _ => self.flags(start),
        }
    }

    fn push_group(&mut self) {
        self.groups.push(Group { weight: 1 });
        self.can_repeat = false;
        self.last_repeat = None;
    }

    fn named_group(&mut self) -> Result<(), Re2Error> {
        let from = self.pos;
        while let Some(c) = self.peek(0) {
            if c == '>' {
                break;
            }
            self.pos += 1;
        }
        if self.peek(0) != Some('>') {
            return Err(invalid("invalid named capture group: missing `>`"));
        }
        let name = self.text(from);
        self.pos += 1;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(format!(
                "invalid capture group name `{name}`: use letters, digits and `_`"
            )));
        }
        if self.names.contains(&name) {
            return Err(invalid(format!("duplicate capture group name `{name}`")));
        }
        self.names.push(name);
        // Names do not change what matches; the crate's rules for them differ slightly.
        self.out.push('(');
        self.push_group();
        Ok(())
    }

    /// `(?flags)` or `(?flags:`; `start` is at the `(`.
    fn flags(&mut self, start: usize) -> Result<(), Re2Error> {
        // Final state of each flag mentioned: RE2 lets later mentions win (`(?s-s)`).
        let mut state: Vec<(char, bool)> = Vec::new();
        let mut negated = false;
        let mut saw_flag = false;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(invalid("missing closing `)`"));
            };
            self.pos += 1;
            match c {
                'i' | 'm' | 's' | 'U' => {
                    state.retain(|(f, _)| *f != c);
                    state.push((c, !negated));
                    saw_flag = true;
                }
                '-' => {
                    if negated {
                        return Err(invalid(format!(
                            "invalid flags `{}`: `-` appears twice",
                            self.text(start)
                        )));
                    }
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        return Err(invalid(format!(
                            "invalid flags `{}`: no flag after `-`",
                            self.text(start)
                        )));
                    }
                    let on: String = state.iter().filter(|(_, v)| *v).map(|(f, _)| *f).collect();
                    let off: String = state.iter().filter(|(_, v)| !*v).map(|(f, _)| *f).collect();
                    let mut flags = on;
                    if !off.is_empty() {
                        flags.push('-');
                        flags.push_str(&off);
                    }
                    if c == ':' {
                        self.out.push_str(&format!("(?{flags}:"));
                        self.push_group();
                    } else {
                        if !flags.is_empty() {
                            self.out.push_str(&format!("(?{flags})"));
                        }
                        // RE2 would apply a following `*` to whatever came before the
                        // flags; other engines refuse it. Ask for it to be written plainly.
                        self.can_repeat = false;
                        self.last_repeat = None;
                    }
                    return Ok(());
                }
                'x' => {
                    return Err(unsupported(
                        "the flag `x` (free-spacing mode)",
                        "RE2 knows the flags i, m, s and U",
                    ));
                }
                'u' => {
                    return Err(unsupported(
                        "the flag `u`",
                        "RE2 knows the flags i, m, s and U",
                    ));
                }
                'R' => {
                    return Err(unsupported(
                        "the flag `R` (CRLF mode)",
                        "RE2 knows the flags i, m, s and U",
                    ));
                }
                other => {
                    return Err(unsupported(
                        format!("the flag `{other}` in `{}`", self.text(start)),
                        "RE2 knows the flags i, m, s and U",
                    ));
                }
            }
        }
    }

    fn close_group(&mut self) -> Result<(), Re2Error> {
        self.pos += 1;
        let Some(g) = self.groups.pop() else {
            return Err(invalid("unexpected `)` with no group open"));
        };
        self.out.push(')');
        self.atom(g.weight);
        Ok(())
    }

    /// `*`, `+`, `?`, each possibly followed by `?` (non-greedy).
    fn simple_repeat(&mut self) -> Result<(), Re2Error> {
        let start = self.pos;
        self.pos += 1;
        if self.peek(0) == Some('?') {
            self.pos += 1;
        }
        self.repeat_common(start, None)?;
        self.out.push_str(&self.text(start));
        Ok(())
    }

    /// Checks shared by every repetition operator starting at `start`; `count` is the
    /// counted repetition's bound for the nesting limit.
    fn repeat_common(&mut self, start: usize, count: Option<u32>) -> Result<(), Re2Error> {
        let op = self.text(start);
        if let Some(previous) = &self.last_repeat {
            let both = format!("{previous}{op}");
            return Err(if op.starts_with('+') {
                unsupported(format!("possessive quantifiers `{both}`"), "remove the `+`")
            } else {
                unsupported(
                    format!("a repetition of a repetition `{both}`"),
                    "group the first one: `(?:x*)*`",
                )
            });
        }
        if !self.can_repeat {
            return Err(invalid(format!(
                "missing argument to repetition operator `{op}`"
            )));
        }
        if let Some(n) = count.filter(|n| *n > 0) {
            self.last_weight = self.last_weight.saturating_mul(u64::from(n));
            if self.last_weight > u64::from(MAX_REPEAT) {
                return Err(unsupported(
                    format!(
                        "nested repetition counts whose product exceeds {MAX_REPEAT} (at `{op}`)"
                    ),
                    "",
                ));
            }
            let w = self.last_weight;
            self.note_weight(w);
        }
        self.last_repeat = Some(op);
        Ok(())
    }

    /// `{`: a counted repetition, or (in RE2) a literal brace.
    fn brace(&mut self) -> Result<(), Re2Error> {
        let start = self.pos;
        let mut i = self.pos + 1;
        let digits = |i: &mut usize, chars: &[char]| {
            let from = *i;
            while chars.get(*i).is_some_and(char::is_ascii_digit) {
                *i += 1;
            }
            chars[from..*i].iter().collect::<String>()
        };
        let lo = digits(&mut i, &self.chars);
        let mut hi: Option<String> = Some(lo.clone());
        if self.chars.get(i) == Some(&',') {
            i += 1;
            let h = digits(&mut i, &self.chars);
            hi = (!h.is_empty()).then_some(h);
        }
        let closed = self.chars.get(i) == Some(&'}');
        let body: String = self.chars[start..(i + 1).min(self.chars.len())]
            .iter()
            .collect();
        let leading_zero = |s: &str| s.len() > 1 && s.starts_with('0');
        if !closed || lo.is_empty() {
            // RE2 reads this `{` as a plain character. Brace text that looks like a
            // count (`{,3}`, `{1,2,3}`) is refused: other engines read it as one.
            let run: String = self.chars[start + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == ',')
                .collect();
            if !run.is_empty() && self.chars.get(start + 1 + run.chars().count()) == Some(&'}') {
                return Err(unsupported(
                    format!("the repetition `{{{run}}}`"),
                    "RE2 reads it as literal text; write `{0,3}` for \"at most 3\", or `\\{` for a brace",
                ));
            }
            self.pos += 1;
            self.literal('{');
            return Ok(());
        }
        if leading_zero(&lo) || hi.as_deref().is_some_and(leading_zero) {
            return Err(unsupported(
                format!("the repetition `{body}` with a leading zero"),
                "RE2 reads it as literal text; write the count without leading zeros",
            ));
        }
        let parse = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
        let min = parse(&lo);
        let max = hi.as_deref().map(parse);
        self.pos = i + 1;
        if self.peek(0) == Some('?') {
            self.pos += 1;
        }
        if min > u64::from(MAX_REPEAT) || max.is_some_and(|m| m > u64::from(MAX_REPEAT)) {
            return Err(unsupported(
                format!("repetition counts over {MAX_REPEAT} (`{body}`)"),
                "",
            ));
        }
        if let Some(m) = max
            && m < min
        {
            return Err(invalid(format!(
                "invalid repetition `{body}`: the minimum is larger than the maximum"
            )));
        }
        let count = max.unwrap_or(min) as u32;
        self.repeat_common(start, Some(count))?;
        self.out.push_str(&self.text(start));
        Ok(())
    }

    /// A `\` outside a class.
    fn escape(&mut self) -> Result<(), Re2Error> {
        let Some(c) = self.peek(1) else {
            return Err(invalid("trailing backslash `\\`"));
        };
        match c {
            'b' | 'B' => {
                self.pos += 2;
                if c == 'b' && self.peek(0) == Some('{') {
                    let kind: String = self.chars[self.pos + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_lowercase() || **c == '-')
                        .collect();
                    if !kind.is_empty() {
                        return Err(unsupported(
                            format!("the word boundary `\\b{{{kind}}}`"),
                            "RE2 has only `\\b` and `\\B`",
                        ));
                    }
                }
                self.out.push('\\');
                self.out.push(c);
                self.atom(1);
                Ok(())
            }
            'A' | 'z' => {
                self.pos += 2;
                self.out.push('\\');
                self.out.push(c);
                self.atom(1);
                Ok(())
            }
            '<' | '>' => Err(unsupported(
                format!(
                    "the word-{} boundary `\\{c}` (RE2 reads it as the character `{c}`)",
                    if c == '<' { "start" } else { "end" }
                ),
                "write `\\b` for a word boundary, or the character alone",
            )),
            'C' => Err(unsupported(
                "`\\C` (any byte), and Istio refuses it",
                "use `.`",
            )),
            'Q' => {
                self.pos += 2;
                while self.pos < self.chars.len() {
                    if self.rest_starts_with("\\E") {
                        self.pos += 2;
                        break;
                    }
                    let c = self.chars[self.pos];
                    self.pos += 1;
                    self.literal(c);
                }
                Ok(())
            }
            'p' | 'P' => {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
                self.atom(1);
                Ok(())
            }
            'd' | 's' | 'w' | 'D' | 'S' | 'W' => {
                self.pos += 2;
                self.out.push('\\');
                self.out.push(c);
                self.atom(1);
                Ok(())
            }
            _ => {
                let c = self.escaped_char(false)?;
                self.literal(c);
                Ok(())
            }
        }
    }

    /// `\p{Name}`, `\pN`, `\P…`, `\p{^Name}`, at the `\`; returns the crate's spelling.
    fn unicode_class(&mut self) -> Result<String, Re2Error> {
        let start = self.pos;
        let mut negated = self.peek(1) == Some('P');
        self.pos += 2;
        let name = match self.peek(0) {
            None => return Err(invalid(format!("incomplete `{}`", self.text(start)))),
            Some('{') => {
                let from = self.pos + 1;
                let Some(end) = self.chars[from..].iter().position(|c| *c == '}') else {
                    return Err(invalid(format!(
                        "missing `}}` after `{}`",
                        self.chars[start..].iter().collect::<String>()
                    )));
                };
                self.pos = from + end + 1;
                self.chars[from..from + end].iter().collect::<String>()
            }
            Some(c) => {
                self.pos += 1;
                c.to_string()
            }
        };
        let shown = self.text(start);
        let name = match name.strip_prefix('^') {
            Some(n) => {
                negated = !negated;
                n.to_string()
            }
            None => name,
        };
        if !(CATEGORIES.contains(&name.as_str()) || SCRIPTS.contains(&name.as_str())) {
            return Err(unsupported(
                format!("the Unicode class `{shown}`"),
                "RE2 knows general categories by their short names (`\\pL`, `\\p{Lu}`) and \
                 scripts by their exact names (`\\p{Greek}`)",
            ));
        }
        Ok(format!("\\{}{{{name}}}", if negated { 'P' } else { 'p' }))
    }

    /// An escape that stands for one character, at the `\` (RE2's `ParseEscape`).
    fn escaped_char(&mut self, in_class: bool) -> Result<char, Re2Error> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.peek(0) else {
            return Err(invalid("trailing backslash `\\`"));
        };
        self.pos += 1;
        let octal = |c: Option<char>| c.filter(|c| ('0'..='7').contains(c));
        match c {
            '1'..='7' if octal(self.peek(0)).is_none() => Err(unsupported(
                format!("backreferences `\\{c}`"),
                "RE2 matches in linear time and cannot refer back to a group",
            )),
            '8' | '9' => Err(unsupported(
                format!("backreferences `\\{c}`"),
                "RE2 matches in linear time and cannot refer back to a group",
            )),
            '0'..='7' => {
                // Octal: up to two more digits.
                let mut code = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match octal(self.peek(0)) {
                        Some(d) => {
                            code = code * 8 + (d as u32 - '0' as u32);
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                Ok(char::from_u32(code).unwrap_or('\0'))
            }
            'x' => {
                let bad = |s: &Self| invalid(format!("invalid escape `{}`", s.text(start)));
                let (from, to, close) = if self.peek(0) == Some('{') {
                    let from = self.pos + 1;
                    let Some(end) = self.chars[from..].iter().position(|c| *c == '}') else {
                        self.pos = self.chars.len();
                        return Err(bad(self));
                    };
                    (from, from + end, true)
                } else {
                    (self.pos, (self.pos + 2).min(self.chars.len()), false)
                };
                let hex: String = self.chars[from..to].iter().collect();
                self.pos = to + usize::from(close);
                if hex.is_empty()
                    || (!close && hex.chars().count() != 2)
                    || !hex.chars().all(|c| c.is_ascii_hexdigit())
                {
                    return Err(bad(self));
                }
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        invalid(format!("`{}` is not a Unicode character", self.text(start)))
                    })
            }
            'a' => Ok('\x07'),
            'f' => Ok('\x0C'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\x0B'),
            'b' if in_class => Err(unsupported(
                "`\\b` inside a class (backspace)",
                "write `\\x08`",
            )),
            'Z' => Err(unsupported(
                "`\\Z` (end of text before a final newline)",
                "write `\\z` for the end of the text, or `$`",
            )),
            'G' => Err(unsupported("`\\G` (the end of the previous match)", "")),
            'K' => Err(unsupported("`\\K` (resetting the start of the match)", "")),
            'k' | 'g' => Err(unsupported(
                format!("backreferences `\\{c}…`"),
                "RE2 matches in linear time and cannot refer back to a group",
            )),
            'u' | 'U' => Err(unsupported(
                format!("the escape `\\{c}`"),
                "write `\\x{41}` for a character by its code",
            )),
            'R' => Err(unsupported(
                "`\\R` (any line break)",
                "write `(\\r\\n|\\n|\\r)`",
            )),
            'X' => Err(unsupported("`\\X` (a grapheme cluster)", "")),
            'h' | 'H' => Err(unsupported(
                format!("`\\{c}` (horizontal space)"),
                "write `[ \\t]`",
            )),
            'V' => Err(unsupported("`\\V` (not vertical space)", "")),
            'N' => Err(unsupported("`\\N`", "write `[^\\n]`")),
            'e' => Err(unsupported("`\\e` (escape)", "write `\\x1B`")),
            'c' => Err(unsupported(
                "control escapes `\\c…`",
                "write `\\x01`-style codes",
            )),
            'E' => Err(invalid("`\\E` without a `\\Q` before it")),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
            c => Err(unsupported(format!("the escape `\\{c}`"), "")),
        }
    }

    /// A bracketed class, at the `[`.
    fn class(&mut self) -> Result<(), Re2Error> {
        self.pos += 1;
        let mut out = String::from("[");
        if self.peek(0) == Some('^') {
            self.pos += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(invalid("missing closing `]`"));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            for (op, what) in [
                ("&&", "class intersection `&&`"),
                ("--", "class difference `--`"),
                ("~~", "class symmetric difference `~~`"),
            ] {
                if self.rest_starts_with(op) {
                    return Err(unsupported(
                        what,
                        "RE2 would read the characters literally; escape them (`\\&`) if \
                         that is what you mean",
                    ));
                }
            }
            if c == '[' {
                if self.peek(1) == Some(':') {
                    let from = self.pos + 2;
                    if let Some(end) = self
                        .chars
                        .get(from..)
                        .and_then(|rest| rest.windows(2).position(|w| w == [':', ']']))
                    {
                        let name: String = self.chars[from..from + end].iter().collect();
                        self.pos = from + end + 2;
                        let bare = name.strip_prefix('^').unwrap_or(&name);
                        if !POSIX_CLASSES.contains(&bare) {
                            return Err(invalid(format!("unknown character class `[:{name}:]`")));
                        }
                        out.push_str(&format!("[:{name}:]"));
                        continue;
                    }
                }
                return Err(unsupported(
                    "nested classes `[…[…]…]`",
                    "RE2 reads `[` inside a class as the character; write `\\[` for it",
                ));
            }
            if c == '\\' {
                match self.peek(1) {
                    Some('p' | 'P') => {
                        let class = self.unicode_class()?;
                        out.push_str(&class);
                        continue;
                    }
                    Some(d @ ('d' | 's' | 'w' | 'D' | 'S' | 'W')) => {
                        self.pos += 2;
                        out.push('\\');
                        out.push(d);
                        continue;
                    }
                    _ => {}
                }
            }
            let lo = self.class_char()?;
            push_literal(&mut out, lo);
            // A range, unless the `-` is the class's last character.
            if self.peek(0) == Some('-') && self.peek(1).is_some_and(|c| c != ']') {
                if self.peek(1) == Some('-') {
                    return Err(unsupported(
                        "class difference `--`",
                        "RE2 would read the characters literally; escape them (`\\-`) if \
                         that is what you mean",
                    ));
                }
                if self.peek(1) == Some('[') {
                    return Err(unsupported(
                        "nested classes `[…[…]…]`",
                        "RE2 reads `[` inside a class as the character; write `\\[` for it",
                    ));
                }
                self.pos += 1;
                if self.peek(0) == Some('\\')
                    && matches!(
                        self.peek(1),
                        Some('p' | 'P' | 'd' | 's' | 'w' | 'D' | 'S' | 'W')
                    )
                {
                    return Err(invalid(format!(
                        "invalid class range `{}-\\{}`",
                        lo,
                        self.peek(1).unwrap_or('?')
                    )));
                }
                let hi = self.class_char()?;
                if hi < lo {
                    return Err(invalid(format!(
                        "invalid class range `{lo}-{hi}`: the start is after the end"
                    )));
                }
                out.push('-');
                push_literal(&mut out, hi);
            }
        }
        out.push(']');
        self.out.push_str(&out);
        self.atom(1);
        Ok(())
    }

    /// One character inside a class: plain or escaped.
    fn class_char(&mut self) -> Result<char, Re2Error> {
        match self.peek(0) {
            None => Err(invalid("missing closing `]`")),
            Some('\\') => {
                if self.peek(1) == Some('Q') {
                    return Err(unsupported(
                        "`\\Q…\\E` inside a class",
                        "escape each character instead",
                    ));
                }
                self.escaped_char(true)
            }
            Some(c) => {
                self.pos += 1;
                Ok(c)
            }
        }
    }
}

/// A character as a literal in the crate's syntax: ASCII other than letters and digits
/// as a hex escape, so no character means anything special whatever surrounds it.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:02X}}}", c as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Patterns RE2 (and Go's regexp, with which Istio checks routes) accepts.
    const ACCEPTED: &[&str] = &[
        "",
        "jason",
        "^/api/v[0-9]+/.*$",
        r"(Android|iPhone|iPad|iPod)",
        r"Chrome/[0-9.]+ (Mobile )?Safari/[0-9.]+$",
        r"^(.*;\s*)?user=(j.*n)(;.*)?$",
        r"a*?b+?c??",
        r"x{2}y{2,}z{2,5}?",
        r"a{1000}",
        r"(a{10}){100}",
        r"(?i)jason",
        r"(?i:ja)son",
        r"(?s-m:.)",
        r"(?s-s:a)",
        r"(?)",
        r"(?P<user>\w+)",
        r"(?<user>\w+)",
        r"(?:a|b)|",
        r"\d\s\w\D\S\W",
        r"[\d\s]",
        r"\pL\p{Lu}\PN\p{Greek}\p{^Han}\p{Any}",
        r"[\p{Greek}a-z]",
        r"[[:alpha:][:^digit:]]",
        r"[]a]",
        r"[^]a]",
        r"[a-]",
        r"[-a]",
        r"[a-b-c]",
        r"\Q.*+\E",
        r"\Qunterminated",
        r"\x41\x{1F600}",
        r"\0\012\123",
        r"\a\f\n\r\t\v",
        r"\.\+\*\?\(\)\|\[\]\{\}\^\$\\\-\_\&\~\#\ \/",
        r"\A\z\b\B",
        r"^*",
        r"a{",
        r"{user}",
        r"a}",
        r"[\x00-\x{10FFFF}]",
        "ünïcödé",
    ];

    /// Patterns RE2 refuses (or reads as something else), with what the message names.
    const REFUSED: &[(&str, &str)] = &[
        (r"[a-z&&[^x]]", "class intersection `&&`"),
        (r"[a-z--x]", "class difference `--`"),
        (r"[a~~b]", "symmetric difference `~~`"),
        (r"[a[bc]]", "nested classes"),
        (r"[[]", "nested classes"),
        (r"\<word\>", "word-start boundary `\\<`"),
        (r"word\>", "word-end boundary `\\>`"),
        (r"\b{start}", "`\\b{start}`"),
        (r"\b{end-half}", "`\\b{end-half}`"),
        (r"foo(?=bar)", "look-ahead"),
        (r"foo(?!bar)", "look-ahead"),
        (r"(?<=foo)bar", "look-behind"),
        (r"(?<!foo)bar", "look-behind"),
        (r"(a)\1", "backreferences `\\1`"),
        (r"\9", "backreferences"),
        (r"(?P<n>a)(?P=n)", "backreferences `(?P=name)`"),
        (r"\k<n>", "backreferences"),
        (r"(?>a+)b", "atomic groups"),
        (r"a*+", "possessive quantifiers `*+`"),
        (r"a++", "possessive quantifiers `++`"),
        (r"a{2}+", "possessive quantifiers `{2}+`"),
        (r"a**", "a repetition of a repetition `**`"),
        (r"a{2}{3}", "a repetition of a repetition `{2}{3}`"),
        (r"a*??", "a repetition of a repetition `*??`"),
        (r"a{1001}", "repetition counts over 1000"),
        (r"a{1,1001}", "repetition counts over 1000"),
        (r"(a{100}){11}", "product exceeds 1000"),
        (r"((a{10}){10}){11}", "product exceeds 1000"),
        (r"a{,3}", "the repetition `{,3}`"),
        (r"a{01}", "leading zero"),
        (r"\Z", "`\\Z`"),
        (r"\G", "`\\G`"),
        (r"\K", "`\\K`"),
        (r"\C", "`\\C`"),
        (r"(?x) a b", "the flag `x`"),
        (r"(?u)a", "the flag `u`"),
        (r"(?iR)a", "the flag `R`"),
        (r"(?R)", "recursion"),
        (r"(?1)", "recursion"),
        (r"(?#note)a", "comments"),
        (r"(?'n'a)", "named groups written `(?'name'…)`"),
        (r"(?|a|b)", "branch reset"),
        (r"(*UTF8)a", "PCRE verbs"),
        (r"\p{Letter}", "the Unicode class `\\p{Letter}`"),
        (r"\p{greek}", "the Unicode class"),
        (r"\p{Alphabetic}", "the Unicode class"),
        (r"\p{sc=Greek}", "the Unicode class"),
        (r"\u0041", "the escape `\\u`"),
        (r"\e", "`\\e`"),
        (r"[\b]", "`\\b` inside a class"),
        (r"[\Qa\E]", "inside a class"),
        (r"\q", "the escape `\\q`"),
    ];

    /// Not regular expressions at all.
    const INVALID: &[(&str, &str)] = &[
        ("(unclosed", "missing closing `)`"),
        ("a)", "unexpected `)`"),
        ("[a-z", "missing closing `]`"),
        ("*a", "missing argument to repetition operator `*`"),
        ("a|*", "missing argument"),
        ("(?i)*", "missing argument"),
        ("{2}", "missing argument"),
        ("[z-a]", "the start is after the end"),
        ("[a-\\d]", "invalid class range"),
        ("a{3,2}", "the minimum is larger"),
        ("\\", "trailing backslash"),
        ("\\x4", "invalid escape"),
        ("\\x{110000}", "not a Unicode character"),
        ("(?P<>a)", "invalid capture group name"),
        ("(?P<a>x)(?P<a>y)", "duplicate capture group name"),
        ("(?-)", "no flag after `-`"),
        ("(?i-)", "no flag after `-`"),
        ("(?i-m-s)", "`-` appears twice"),
        ("[[:foo:]]", "unknown character class"),
        ("\\E", "without a `\\Q`"),
    ];

    #[test]
    fn accepts_what_re2_accepts_and_the_crate_compiles_its_spelling() {
        for p in ACCEPTED {
            let parsed = parse(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            if let Err(e) = regex::Regex::new(parsed.rust_syntax()) {
                panic!("{p:?} as {:?}: {e}", parsed.rust_syntax());
            }
        }
    }

    #[test]
    fn refuses_what_re2_does_not_support_naming_the_construct() {
        for (p, named) in REFUSED {
            match parse(p) {
                Err(e @ Re2Error::Unsupported { .. }) => {
                    let m = e.to_string();
                    assert!(
                        m.starts_with("RE2, which Envoy uses, does not support ")
                            && m.contains(named),
                        "{p:?}: {m}"
                    );
                }
                other => panic!("{p:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_patterns_say_what_is_wrong() {
        for (p, what) in INVALID {
            match parse(p) {
                Err(e @ Re2Error::Invalid(_)) => {
                    let m = e.to_string();
                    assert!(m.contains(what), "{p:?}: {m}");
                }
                other => panic!("{p:?}: {other:?}"),
            }
        }
    }

    /// The point of the module: the crate alone accepts these, RE2 does not.
    #[test]
    fn the_regex_crate_alone_would_let_these_through() {
        for p in [
            r"[a-z&&[^x]]",
            r"\<",
            r"\b{start}",
            r"a**",
            r"a*+",
            r"a{1001}",
            r"(?x)a",
            r"\p{Letter}",
            r"\u0041",
        ] {
            assert!(regex::Regex::new(p).is_ok(), "{p}");
            assert!(parse(p).is_err(), "{p}");
        }
    }

    /// And these RE2 takes, which the crate refuses as written.
    #[test]
    fn re2_only_syntax_is_spelled_for_the_crate() {
        for (p, matches, not) in [
            (r"\Qa.b\E", "a.b", "axb"),
            (r"\101", "A", "B"),
            (r"(?s-s:a)b", "ab", "a"),
            (r"{x}", "{x}", "x"),
            (r"[\d-z]", "-", "a"),
        ] {
            assert!(regex::Regex::new(p).is_err(), "{p}");
            let re =
                regex::Regex::new(&format!("^(?:{})$", parse(p).unwrap().rust_syntax())).unwrap();
            assert!(re.is_match(matches) && !re.is_match(not), "{p}");
        }
    }

    #[test]
    fn user_agent_and_cookie_regexes_the_console_writes_are_re2() {
        use super::super::rules::{Browser, MatchOp, Os, cookie_regex, user_agent_regex};
        let ua = user_agent_regex(&Os::ALL, &Browser::ALL).unwrap();
        assert_eq!(check(&ua), Ok(()));
        assert_eq!(check(&cookie_regex("user", MatchOp::Prefix, "a.b")), Ok(()));
    }
}
