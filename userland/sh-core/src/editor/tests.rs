//! Line editor tests: typing, editing keys, history, wrapping, completion.
use super::*;

fn editor() -> LineEditor {
    let mut editor = LineEditor::new();
    editor.begin("/ # ");
    editor.take_output();
    editor
}

fn feed(editor: &mut LineEditor, bytes: &[u8], history: &History) -> EditEvent {
    let (event, used) = editor.feed_all(bytes, history);
    assert_eq!(used, bytes.len(), "event came early");
    event
}

#[test]
fn begin_writes_prompt() {
    let mut editor = LineEditor::new();
    editor.begin("/ # ");
    assert_eq!(editor.take_output(), "/ # ");
    assert_eq!(editor.take_output(), "");
}

#[test]
fn typing_echoes_and_enter_finishes() {
    let history = History::default();
    let mut editor = editor();
    assert_eq!(feed(&mut editor, b"ls -l", &history), EditEvent::Pending);
    assert_eq!(editor.take_output(), "ls -l");
    assert_eq!(editor.cursor(), 5);
    assert_eq!(
        feed(&mut editor, b"\r", &history),
        EditEvent::Line("ls -l".into())
    );
    assert_eq!(editor.take_output(), "\r\n");
    assert_eq!(editor.line(), "");
}

#[test]
fn crlf_is_one_enter_but_lf_alone_is_enter() {
    let history = History::default();
    let mut editor = editor();
    let (event, used) = editor.feed_all(b"a\r\nb\n", &history);
    assert_eq!(event, EditEvent::Line("a".into()));
    assert_eq!(used, 2);
    let (event, used) = editor.feed_all(b"\nb\n", &history);
    assert_eq!(event, EditEvent::Line("b".into()));
    assert_eq!(used, 3);
}

#[test]
fn backspace_at_end_and_in_middle() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"abc\x7f", &history);
    assert_eq!(editor.line(), "ab");
    assert_eq!(editor.take_output(), "abc\x08 \x08");
    feed(&mut editor, b"\x1b[D\x08", &history);
    assert_eq!(editor.line(), "b");
    assert_eq!(editor.cursor(), 0);
    assert_eq!(editor.take_output(), "\x1b[1D\r/ # b\x1b[K\x1b[1D");
    // Backspace at the start does nothing.
    feed(&mut editor, b"\x7f", &history);
    assert_eq!(editor.line(), "b");
    assert_eq!(editor.take_output(), "");
}

#[test]
fn arrows_move_and_insert_in_middle_redraws() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"ac\x1b[DX", &history);
    assert_eq!(editor.line(), "aXc");
    assert_eq!(editor.cursor(), 2);
    assert_eq!(editor.take_output(), "ac\x1b[1D\r/ # aXc\x1b[K\x1b[1D");
    feed(&mut editor, b"\x1b[C\x1b[C", &history);
    assert_eq!(editor.cursor(), 3, "right stops at the end");
    assert_eq!(editor.take_output(), "\x1b[1C");
}

#[test]
fn home_and_end_keys() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"hello\x01", &history);
    assert_eq!(editor.cursor(), 0);
    feed(&mut editor, b"\x05", &history);
    assert_eq!(editor.cursor(), 5);
    feed(&mut editor, b"\x1b[H", &history);
    assert_eq!(editor.cursor(), 0);
    feed(&mut editor, b"\x1b[F", &history);
    assert_eq!(editor.cursor(), 5);
    feed(&mut editor, b"\x1b[1~", &history);
    assert_eq!(editor.cursor(), 0);
    feed(&mut editor, b"\x1bOF", &history);
    assert_eq!(editor.cursor(), 5);
    feed(&mut editor, b"\x1b[7~\x1b[3~", &history);
    assert_eq!(editor.line(), "ello", "Delete removes under the cursor");
}

#[test]
fn ctrl_u_kills_before_cursor_and_ctrl_k_after() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"one two\x1b[D\x1b[D\x1b[D\x15", &history);
    assert_eq!(editor.line(), "two");
    assert_eq!(editor.cursor(), 0);
    editor.take_output();
    feed(&mut editor, b"\x06\x0b", &history);
    assert_eq!(editor.line(), "t");
    assert_eq!(editor.take_output(), "\x1b[1C\r/ # t\x1b[K");
}

#[test]
fn ctrl_c_cancels_the_line() {
    let history = History::default();
    let mut editor = editor();
    assert_eq!(
        feed(&mut editor, b"sleep 5\x03", &history),
        EditEvent::Cancelled
    );
    assert_eq!(editor.line(), "");
    assert_eq!(editor.take_output(), "sleep 5^C\r\n");
}

#[test]
fn ctrl_d_ends_input_only_on_empty_line() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"ab\x01\x04", &history);
    assert_eq!(editor.line(), "b");
    feed(&mut editor, b"\x04", &history);
    assert_eq!(editor.line(), "");
    assert_eq!(feed(&mut editor, b"\x04", &history), EditEvent::EndOfInput);
}

#[test]
fn history_up_down_restores_draft() {
    let mut history = History::default();
    history.push("first");
    history.push("second");
    let mut editor = editor();
    feed(&mut editor, b"dra", &history);
    feed(&mut editor, b"\x1b[A", &history);
    assert_eq!(editor.line(), "second");
    assert_eq!(editor.cursor(), 6);
    feed(&mut editor, b"\x1b[A", &history);
    assert_eq!(editor.line(), "first");
    editor.take_output();
    feed(&mut editor, b"\x1b[A", &history);
    assert_eq!(editor.line(), "first", "stays at the oldest");
    assert_eq!(editor.take_output(), BELL);
    feed(&mut editor, b"\x1b[B", &history);
    assert_eq!(editor.line(), "second");
    feed(&mut editor, b"\x1b[B", &history);
    assert_eq!(editor.line(), "dra");
    assert_eq!(editor.take_output(), "\r/ # second\x1b[K\r/ # dra\x1b[K");
    feed(&mut editor, b"\x1b[B", &history);
    assert_eq!(editor.take_output(), BELL);
}

#[test]
fn history_up_with_empty_history_rings() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"\x1b[A", &history);
    assert_eq!(editor.take_output(), BELL);
    assert_eq!(editor.line(), "");
}

#[test]
fn recalled_multi_line_entry_shows_spaces() {
    let mut history = History::default();
    history.push("a |\nb");
    let mut editor = editor();
    feed(&mut editor, b"\x1b[A", &history);
    assert_eq!(editor.line(), "a | b");
}

#[test]
fn utf8_input_is_assembled() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, "é€".as_bytes(), &history);
    assert_eq!(editor.line(), "é€");
    assert_eq!(editor.cursor(), 2);
    // Invalid bytes are dropped.
    feed(&mut editor, &[0xff, b'x'], &history);
    assert_eq!(editor.line(), "é€x");
    feed(&mut editor, b"\x7f\x7f", &history);
    assert_eq!(editor.line(), "é");
}

#[test]
fn unknown_escapes_and_controls_are_ignored() {
    let history = History::default();
    let mut editor = editor();
    feed(
        &mut editor,
        b"a\x1b[99;99;99;99;99;99;99;99Zb\t\x1bxc",
        &history,
    );
    assert_eq!(editor.line(), "abc");
}

#[test]
fn line_length_is_bounded() {
    let history = History::default();
    let mut editor = editor();
    let long = vec![b'x'; MAX_LINE_BYTES + 10];
    feed(&mut editor, &long, &history);
    assert_eq!(editor.line().len(), MAX_LINE_BYTES);
    assert!(editor.take_output().ends_with(BELL));
}

#[test]
fn begin_resets_an_unfinished_escape() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"\x1b[", &history);
    editor.begin("> ");
    feed(&mut editor, b"A", &history);
    assert_eq!(editor.line(), "A");
}

#[test]
fn ctrl_w_erases_the_word_before_the_cursor() {
    let history = History::default();
    let mut editor = editor();
    feed(&mut editor, b"echo one two  \x17", &history);
    assert_eq!(editor.line(), "echo one ");
    feed(&mut editor, b"\x17\x17\x17", &history);
    assert_eq!(editor.line(), "");
}

#[test]
fn long_lines_redraw_from_the_prompt_row() {
    let history = History::default();
    let mut editor = editor();
    editor.set_columns(10);
    // "/ # " is 4 columns: 12 characters reach row 1.
    feed(&mut editor, b"abcdefghijkl", &history);
    editor.take_output();
    // Left then a character in the middle: redraw goes up one row first
    // and never prints a second prompt on the row below.
    feed(&mut editor, b"\x1b[DX", &history);
    let output = editor.take_output();
    assert!(output.contains("\x1b[1A\r/ # abcdefghijkXl"), "{output:?}");
    assert_eq!(output.matches("/ # ").count(), 1);
    assert_eq!(editor.line(), "abcdefghijkXl");
    // Home goes up a row and left.
    feed(&mut editor, b"\x01", &history);
    assert_eq!(editor.take_output(), "\x1b[1A\x1b[2D");
}

struct Names(Vec<String>);

impl Completer for Names {
    fn complete(&mut self, word: &str, _first: bool) -> Vec<String> {
        self.0
            .iter()
            .filter(|n| n.starts_with(word))
            .cloned()
            .collect()
    }
}

#[test]
fn tab_completes_unique_and_common_prefixes() {
    let history = History::default();
    let mut editor = editor();
    let mut names = Names(vec!["export".into(), "exit".into(), "echo".into()]);
    editor.feed_all_completing(b"ech\t", &history, &mut names);
    assert_eq!(editor.line(), "echo ");
    let mut editor = self::editor();
    editor.feed_all_completing(b"e\t", &history, &mut names);
    assert_eq!(editor.line(), "e");
    let output = editor.take_output();
    assert!(output.contains("export"), "{output:?}");
    editor.feed_all_completing(b"x\t", &history, &mut names);
    assert_eq!(editor.line(), "ex");
    editor.feed_all_completing(b"p\t", &history, &mut names);
    assert_eq!(editor.line(), "export ");
}
