//! Compound commands — `{ }`, `( )`, `if`, `while`/`until`, `for`, `case`
//! — and function calls (own positional parameters, `local` scope,
//! `return`). Loops honour `break N` / `continue N`; conditions are
//! exempt from `set -e`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use zos_sh_syntax::{
    expand_pattern, expand_to_string, expand_words, glob_match, CaseArm, CompoundCommand,
    FunctionDef, Program, Redirect, Word,
};

use crate::shell::{Flow, Shell};

/// Deepest function recursion (a clear error instead of a crash).
pub const MAX_FUNCTION_DEPTH: u32 = 1000;

impl Shell {
    pub fn run_compound_redirected(
        &mut self,
        compound: &CompoundCommand,
        redirects: &[Redirect],
    ) -> i32 {
        let saved = match self.redirect(redirects) {
            Ok(saved) => saved,
            Err(status) => return status,
        };
        let status = self.run_compound(compound);
        self.restore(saved);
        status
    }

    fn run_compound(&mut self, compound: &CompoundCommand) -> i32 {
        match compound {
            CompoundCommand::Brace(body) => self.run_program(body),
            CompoundCommand::Subshell(body) => self.subshell(|shell| shell.run_program(body)),
            CompoundCommand::If {
                branches,
                otherwise,
            } => {
                for (condition, body) in branches {
                    let status = self.run_condition(condition);
                    if self.flow != Flow::Normal {
                        return status;
                    }
                    if status == 0 {
                        return self.run_program(body);
                    }
                }
                match otherwise {
                    Some(body) => self.run_program(body),
                    None => 0,
                }
            }
            CompoundCommand::Loop {
                until,
                condition,
                body,
            } => self.run_loop(*until, condition, body),
            CompoundCommand::For { name, words, body } => {
                self.run_for(name, words.as_deref(), body)
            }
            CompoundCommand::Case { word, arms } => self.run_case(word, arms),
        }
    }

    /// A condition list: `set -e` does not apply inside.
    fn run_condition(&mut self, condition: &Program) -> i32 {
        self.errexit_suppressed += 1;
        let status = self.run_program(condition);
        self.errexit_suppressed -= 1;
        status
    }

    /// After a loop body: true if the loop should end. Consumes one level
    /// of `break`/`continue`.
    fn loop_control(&mut self) -> (bool, bool) {
        match self.flow {
            Flow::Break(n) => {
                self.flow = if n > 1 {
                    Flow::Break(n - 1)
                } else {
                    Flow::Normal
                };
                (true, false)
            }
            Flow::Continue(n) => {
                if n > 1 {
                    self.flow = Flow::Continue(n - 1);
                    (true, false)
                } else {
                    self.flow = Flow::Normal;
                    (false, true)
                }
            }
            Flow::Normal => (false, false),
            Flow::Return | Flow::Exit | Flow::Abort => (true, false),
        }
    }

    fn run_loop(&mut self, until: bool, condition: &Program, body: &Program) -> i32 {
        let mut status = 0;
        self.loop_depth += 1;
        loop {
            if self.interactive && self.check_interrupt() {
                break;
            }
            let test = self.run_condition(condition);
            let (stop, _) = self.loop_control();
            if stop {
                break;
            }
            if (test == 0) == until {
                break;
            }
            status = self.run_program(body);
            let (stop, _) = self.loop_control();
            if stop {
                break;
            }
        }
        self.loop_depth -= 1;
        status
    }

    fn run_for(&mut self, name: &str, words: Option<&[Word]>, body: &Program) -> i32 {
        let values = match words {
            Some(words) => match expand_words(words, self) {
                Ok(values) => values,
                Err(error) => return self.expansion_failed(&error),
            },
            None => self.positional.clone(),
        };
        let mut status = 0;
        self.loop_depth += 1;
        for value in values {
            if let Err(error) = self.vars.set(name, &value) {
                self.complain(&error.to_string());
                status = 1;
                break;
            }
            status = self.run_program(body);
            let (stop, _) = self.loop_control();
            if stop {
                break;
            }
        }
        self.loop_depth -= 1;
        status
    }

    fn run_case(&mut self, word: &Word, arms: &[CaseArm]) -> i32 {
        let subject = match expand_to_string(word, self) {
            Ok(subject) => subject,
            Err(error) => return self.expansion_failed(&error),
        };
        let mut index = 0;
        while index < arms.len() {
            let mut matched = false;
            for pattern in &arms[index].patterns {
                let pattern = match expand_pattern(pattern, self) {
                    Ok(pattern) => pattern,
                    Err(error) => return self.expansion_failed(&error),
                };
                if glob_match(&pattern, &subject) {
                    matched = true;
                    break;
                }
            }
            if matched {
                let mut status = 0;
                // `;&` falls into the next arm's body.
                while index < arms.len() {
                    status = self.run_program(&arms[index].body);
                    if !arms[index].fall_through || self.flow != Flow::Normal {
                        break;
                    }
                    index += 1;
                }
                return status;
            }
            index += 1;
        }
        0
    }

    /// Calls a function with `argv[1..]` as its positional parameters.
    pub fn call_function(&mut self, function: &FunctionDef, argv: &[String]) -> i32 {
        if self.function_depth >= MAX_FUNCTION_DEPTH || self.stack_exhausted() {
            self.complain(&alloc::format!(
                "{}: function nesting too deep (limit {MAX_FUNCTION_DEPTH})",
                function.name
            ));
            self.abort(2);
            return 2;
        }
        let saved_positional: Vec<String> =
            core::mem::replace(&mut self.positional, argv[1..].to_vec());
        let saved_loops = core::mem::replace(&mut self.loop_depth, 0);
        self.function_depth += 1;
        self.vars.push_scope();
        let status = self.run_compound_redirected(&function.body, &function.redirects);
        self.vars.pop_scope();
        self.function_depth -= 1;
        self.loop_depth = saved_loops;
        self.positional = saved_positional;
        if self.flow == Flow::Return {
            self.flow = Flow::Normal;
            return self.last_status;
        }
        status
    }
}
