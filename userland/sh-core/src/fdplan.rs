//! Descriptor plans: what each descriptor of a command will refer to after its
//! pipe ends and redirections are applied left to right, expressed as the
//! parent's descriptors. `2>&1` after `>/dev/null` and `>/dev/null` after
//! `2>&1` differ, and a pipe end already on 1 is what `2>&1` copies, so the
//! plan models the child's table rather than translating redirections one by
//! one. The result becomes spawn file actions, or tells a builtin where to
//! write.
//!
//! Files cannot be opened until the VFS exists: `<`, `>`, `>>`, `<>` work only
//! for `/dev/null`, which closes the descriptor; any other path is
//! [`PlanError::NotImplemented`].

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use zos_sh_syntax::RedirectKind;

/// What a child descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdSource {
    /// The parent's descriptor with this number.
    Parent(i32),
    /// `/dev/null`: closed in the child (there is no null device yet), but
    /// a valid source for `2>&1`, and output to it is discarded.
    Null,
    Closed,
}

/// A spawn file action (mirrors `libzos::posix::FileAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdAction {
    /// Child descriptor `to` refers to the parent's `from`.
    Dup2 {
        from: i32,
        to: i32,
    },
    Close(i32),
}

/// A redirection with its target word already expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpandedRedirect {
    pub fd: u32,
    pub kind: RedirectKind,
    /// The file name (ignored for dups and closes).
    pub target: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// Opening files needs the VFS: `sh: PATH: Function not implemented`.
    NotImplemented(String),
    /// `N>&M` with `M` not open: `sh: M: Bad file descriptor`.
    BadDescriptor(u32),
}

/// The path that redirections may use before the VFS exists.
pub const DEV_NULL: &str = "/dev/null";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdPlan {
    /// Child descriptor → source; absent means closed.
    table: BTreeMap<i32, FdSource>,
}

impl FdPlan {
    /// A child that inherits `inherited` parent descriptors unchanged.
    pub fn inherit(inherited: &[i32]) -> FdPlan {
        FdPlan {
            table: inherited
                .iter()
                .map(|fd| (*fd, FdSource::Parent(*fd)))
                .collect(),
        }
    }

    /// Points child descriptor `to` at the parent's `from` (a pipe end).
    pub fn connect(&mut self, to: i32, from: i32) {
        self.table.insert(to, FdSource::Parent(from));
    }

    pub fn source(&self, fd: i32) -> FdSource {
        self.table.get(&fd).copied().unwrap_or(FdSource::Closed)
    }

    /// Applies one redirection.
    pub fn apply(&mut self, redirect: &ExpandedRedirect) -> Result<(), PlanError> {
        let fd = redirect.fd as i32;
        match redirect.kind {
            RedirectKind::Read
            | RedirectKind::Write
            | RedirectKind::Append
            | RedirectKind::ReadWrite => {
                if redirect.target != DEV_NULL {
                    return Err(PlanError::NotImplemented(redirect.target.clone()));
                }
                self.table.insert(fd, FdSource::Null);
            }
            RedirectKind::DupWrite(source) | RedirectKind::DupRead(source) => {
                let Some(copied) = self.table.get(&(source as i32)).copied() else {
                    return Err(PlanError::BadDescriptor(source));
                };
                self.table.insert(fd, copied);
            }
            RedirectKind::Close => {
                self.table.remove(&fd);
            }
        }
        Ok(())
    }

    /// Applies redirections in order.
    pub fn apply_all(&mut self, redirects: &[ExpandedRedirect]) -> Result<(), PlanError> {
        redirects
            .iter()
            .try_for_each(|redirect| self.apply(redirect))
    }

    /// The file actions that give a child this table, for descriptors
    /// `0..limit` (the most a child receives); every other descriptor the
    /// parent holds is closed in the child.
    pub fn actions(&self, limit: i32) -> Vec<FdAction> {
        (0..limit)
            .filter_map(|fd| match self.source(fd) {
                FdSource::Parent(parent) if parent == fd => None,
                FdSource::Parent(parent) => Some(FdAction::Dup2 {
                    from: parent,
                    to: fd,
                }),
                FdSource::Null | FdSource::Closed => Some(FdAction::Close(fd)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(fd: u32, kind: RedirectKind, target: &str) -> ExpandedRedirect {
        ExpandedRedirect {
            fd,
            kind,
            target: target.into(),
        }
    }

    #[test]
    fn plain_inheritance_closes_the_rest() {
        let plan = FdPlan::inherit(&[0, 1, 2]);
        assert_eq!(plan.actions(4), vec![FdAction::Close(3)]);
        assert_eq!(plan.source(1), FdSource::Parent(1));
        assert_eq!(plan.source(7), FdSource::Closed);
    }

    #[test]
    fn pipe_ends_then_stderr_to_stdout() {
        let mut plan = FdPlan::inherit(&[0, 1, 2]);
        plan.connect(0, 3);
        plan.connect(1, 5);
        plan.apply(&redirect(2, RedirectKind::DupWrite(1), "1"))
            .unwrap();
        assert_eq!(
            plan.actions(4),
            vec![
                FdAction::Dup2 { from: 3, to: 0 },
                FdAction::Dup2 { from: 5, to: 1 },
                FdAction::Dup2 { from: 5, to: 2 },
                FdAction::Close(3),
            ]
        );
    }

    #[test]
    fn order_of_redirections_matters() {
        let mut first_dup = FdPlan::inherit(&[0, 1, 2]);
        first_dup
            .apply_all(&[
                redirect(2, RedirectKind::DupWrite(1), "1"),
                redirect(1, RedirectKind::Write, DEV_NULL),
            ])
            .unwrap();
        assert_eq!(first_dup.source(2), FdSource::Parent(1));
        assert_eq!(first_dup.source(1), FdSource::Null);

        let mut first_null = FdPlan::inherit(&[0, 1, 2]);
        first_null
            .apply_all(&[
                redirect(1, RedirectKind::Write, DEV_NULL),
                redirect(2, RedirectKind::DupWrite(1), "1"),
            ])
            .unwrap();
        assert_eq!(first_null.source(2), FdSource::Null);
        assert_eq!(
            first_null.actions(3),
            vec![FdAction::Close(1), FdAction::Close(2)]
        );
        let mut closed = FdPlan::inherit(&[0, 1, 2]);
        assert_eq!(
            closed.apply_all(&[
                redirect(1, RedirectKind::Close, "-"),
                redirect(2, RedirectKind::DupWrite(1), "1"),
            ]),
            Err(PlanError::BadDescriptor(1))
        );
    }

    #[test]
    fn swap_through_a_third_descriptor() {
        // 3>&1 1>&2 2>&3 3>&-
        let mut plan = FdPlan::inherit(&[0, 1, 2]);
        plan.apply_all(&[
            redirect(3, RedirectKind::DupWrite(1), "1"),
            redirect(1, RedirectKind::DupWrite(2), "2"),
            redirect(2, RedirectKind::DupWrite(3), "3"),
            redirect(3, RedirectKind::Close, "-"),
        ])
        .unwrap();
        assert_eq!(
            plan.actions(4),
            vec![
                FdAction::Dup2 { from: 2, to: 1 },
                FdAction::Dup2 { from: 1, to: 2 },
                FdAction::Close(3),
            ]
        );
    }

    #[test]
    fn files_other_than_dev_null_are_not_implemented() {
        let mut plan = FdPlan::inherit(&[0, 1, 2]);
        assert_eq!(
            plan.apply(&redirect(1, RedirectKind::Append, "/tmp/x")),
            Err(PlanError::NotImplemented("/tmp/x".into()))
        );
        plan.apply(&redirect(0, RedirectKind::Read, DEV_NULL))
            .unwrap();
        assert_eq!(plan.source(0), FdSource::Null);
        assert_eq!(
            plan.actions(3),
            vec![FdAction::Close(0)],
            "a failed redirection changed nothing"
        );
    }
}
