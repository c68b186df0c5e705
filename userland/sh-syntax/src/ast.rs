//! The syntax tree of the POSIX shell language: a [`Program`] is a list of
//! and-or lists; each holds pipelines of [`Command`]s, which are simple
//! commands, compound commands (`{ }`, `( )`, `if`, `while`, `until`, `for`,
//! `case`) with their redirections, or function definitions.
//!
//! Words keep their structure ([`WordPart`]) so expansion knows what was
//! quoted. Nodes that may have to be re-run by another shell process (a
//! background list, a function) keep their source text.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

/// A list of commands run one after another (a script, a `{ }` body, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    pub items: Vec<ListItem>,
}

/// One and-or list of a [`Program`], with `&` or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListItem {
    pub and_or: AndOr,
    pub background: bool,
    /// The source text of the and-or list (without the `&`).
    pub source: String,
}

/// Pipelines joined by `&&` / `||`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

/// How a pipeline of an [`AndOr`] joins the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: run only if the previous pipeline succeeded.
    And,
    /// `||`: run only if the previous pipeline failed.
    Or,
}

/// Commands joined by `|`; `negated` is a leading `!`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Command>,
    /// The source text of the pipeline (for job listings).
    pub source: String,
    /// The source text of each command (for a child shell to run).
    pub command_sources: Vec<String>,
}

/// One command of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Simple(SimpleCommand),
    Compound(Box<CompoundCommand>, Vec<Redirect>),
    Function(Rc<FunctionDef>),
}

/// `name() compound-command [redirections]`.
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionDef {
    pub name: String,
    pub body: CompoundCommand,
    pub redirects: Vec<Redirect>,
    /// The whole definition as written, to hand to another shell process.
    pub source: String,
}

/// Assignments, words and redirections, in any order in the source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    pub assignments: Vec<(String, Word)>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// Line number (1-based) where the command starts, for `$LINENO`.
    pub line: u32,
    /// The command as written (for alias substitution).
    pub source: String,
}

/// The compound commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompoundCommand {
    /// `{ list; }`
    Brace(Program),
    /// `( list )`
    Subshell(Program),
    /// `if c; then b; elif c; then b; else b; fi`
    If {
        branches: Vec<(Program, Program)>,
        otherwise: Option<Program>,
    },
    /// `while c; do b; done` (or `until` when `until` is set).
    Loop {
        until: bool,
        condition: Program,
        body: Program,
    },
    /// `for name [in words]; do b; done` (`words: None` means `"$@"`).
    For {
        name: String,
        words: Option<Vec<Word>>,
        body: Program,
    },
    /// `case word in pattern) list ;; esac`
    Case { word: Word, arms: Vec<CaseArm> },
}

/// One `pattern | pattern) list ;;` of a `case`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseArm {
    pub patterns: Vec<Word>,
    pub body: Program,
    /// Ended by `;&`: fall through into the next arm's body.
    pub fall_through: bool,
}

/// One redirection; `fd` is the descriptor set up (the default when `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub fd: Option<u32>,
    pub kind: RedirectKind,
    pub target: RedirectTarget,
}

impl Redirect {
    /// The descriptor this redirection sets up.
    pub fn descriptor(&self) -> u32 {
        self.fd.unwrap_or(match self.kind {
            RedirectKind::Read
            | RedirectKind::ReadWrite
            | RedirectKind::DupRead
            | RedirectKind::HereDoc => 0,
            _ => 1,
        })
    }
}

/// What a [`Redirect`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// `<`
    Read,
    /// `>`
    Write,
    /// `>|`
    Clobber,
    /// `>>`
    Append,
    /// `<>`
    ReadWrite,
    /// `<&`
    DupRead,
    /// `>&`
    DupWrite,
    /// `<<` and `<<-`
    HereDoc,
}

/// A file name word, or a here-document's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectTarget {
    Word(Word),
    HereDoc(Rc<HereDoc>),
}

/// A here-document; its body is read after the line that names it.
#[derive(Debug, PartialEq, Eq)]
pub struct HereDoc {
    pub delimiter: String,
    /// `<<-`: leading tabs are stripped from each line.
    pub strip_tabs: bool,
    /// The delimiter was quoted: the body is not expanded.
    pub quoted: bool,
    /// Filled in when the body has been read.
    pub body: RefCell<Word>,
}

/// A word before expansion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<WordPart>,
}

/// A piece of a [`Word`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WordPart {
    /// Unquoted text: subject to pathname expansion.
    Literal(String),
    /// Text from single quotes or a backslash escape: taken as is.
    Quoted(String),
    /// `"..."`: the parts inside double quotes.
    Double(Vec<WordPart>),
    /// `$name`, `${...}`.
    Param(Box<Param>),
    /// `$(...)` or backquotes.
    Command(Rc<Program>),
    /// `$((...))`: the expression, expanded before it is evaluated.
    Arith(Word),
    /// `~` or `~user` at the start of a word or after `=`/`:` in an assignment.
    Tilde(String),
}

/// A parameter expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// A name, a positional number, or a special parameter (`?`, `@`, ...).
    pub name: String,
    pub op: ParamOp,
    /// The word after the operator (empty for `Plain` and `Length`).
    pub word: Word,
}

/// What a `${...}` does with its parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamOp {
    /// `$x`, `${x}`
    Plain,
    /// `${#x}`
    Length,
    /// `${x-w}` / `${x:-w}` (`colon`: an empty value counts as unset)
    Default { colon: bool },
    /// `${x=w}` / `${x:=w}`
    Assign { colon: bool },
    /// `${x?w}` / `${x:?w}`
    Error { colon: bool },
    /// `${x+w}` / `${x:+w}`
    Alternative { colon: bool },
    /// `${x%w}`
    RemoveSmallestSuffix,
    /// `${x%%w}`
    RemoveLargestSuffix,
    /// `${x#w}`
    RemoveSmallestPrefix,
    /// `${x##w}`
    RemoveLargestPrefix,
}

impl Word {
    /// A word of one unquoted literal.
    pub fn literal(text: &str) -> Word {
        Word {
            parts: alloc::vec![WordPart::Literal(String::from(text))],
        }
    }

    /// The text if the word is only unquoted literal text.
    pub fn as_plain(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [WordPart::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// The text with quoting removed, if the word has no expansions.
    pub fn as_literal(&self) -> Option<String> {
        fn collect(parts: &[WordPart], out: &mut String) -> bool {
            parts.iter().all(|part| match part {
                WordPart::Literal(text) | WordPart::Quoted(text) => {
                    out.push_str(text);
                    true
                }
                WordPart::Double(inner) => collect(inner, out),
                _ => false,
            })
        }
        let mut text = String::new();
        collect(&self.parts, &mut text).then_some(text)
    }

    /// True if any part was quoted (a here-document delimiter like `'EOF'`).
    pub fn has_quotes(&self) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, WordPart::Quoted(_) | WordPart::Double(_)))
    }
}
