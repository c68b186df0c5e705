//! Property tests: arbitrary input never panics the lexer, parser, expander or
//! glob matcher, and any script that parses prints back as text that parses to
//! the same tree.

use proptest::prelude::*;
use zos_sh_syntax::{expand_words, glob_match, needs_more_input, parse, Env};

/// An environment where every variable holds text with separators in it.
struct NoisyEnv;

impl Env for NoisyEnv {
    fn var(&self, name: &str) -> Option<String> {
        (name != "IFS").then(|| format!(" {name} :x  y\t"))
    }
    fn special(&self, symbol: char) -> Option<String> {
        Some(format!("{symbol} {symbol}"))
    }
}

/// Strings built mostly from characters that mean something to the shell.
fn shellish() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "ab1 \t\n|&;<>()@0~:'\"\\$#{}=!-*?[]`%_2".chars().collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..40)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        let _ = needs_more_input(&input);
        if let Ok(script) = parse(&input) {
            let _ = script.to_string();
        }
    }

    #[test]
    fn shellish_text_never_panics_and_round_trips(input in shellish()) {
        let _ = needs_more_input(&input);
        match parse(&input) {
            Ok(script) => {
                let printed = script.to_string();
                let reparsed = parse(&printed);
                prop_assert_eq!(reparsed.as_ref(), Ok(&script), "printed as {:?}", printed);
                for item in &script.items {
                    for command in &item.first.commands {
                        let _ = expand_words(&command.words, &NoisyEnv);
                    }
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(!message.is_empty());
                prop_assert!(!message.contains('\n'));
            }
        }
    }

    #[test]
    fn glob_never_panics(pattern in "[a*?\\[\\]!^\\\\-]{0,12}", name in "[a\\[\\]!^\\\\-]{0,12}") {
        let _ = glob_match(&pattern, &name);
    }

    #[test]
    fn glob_literal_pattern_matches_itself(name in "[a-z0-9._]{0,20}") {
        prop_assert!(glob_match(&name, &name));
        let starred = format!("*{name}*");
        prop_assert!(glob_match(&starred, &name));
    }
}
