//! Deoptimisation's reasons, in one place: why native code was thrown
//! away (its methods going back to the interpreter), and the counts by
//! reason that `--stats` and the stats channel show.

use std::fmt;

macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $name:ident = $key:literal, $text:literal;)*) => {
        /// Why native code was thrown away.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DeoptReason {
            $( $(#[doc = $doc])* $name, )*
        }

        impl DeoptReason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [DeoptReason] = &[$(DeoptReason::$name),*];

            /// A short stable name (for machine-read output).
            pub fn key(self) -> &'static str {
                match self { $(DeoptReason::$name => $key,)* }
            }

            /// What happened, as `--stats` says it ("N because ...").
            pub fn text(self) -> &'static str {
                match self { $(DeoptReason::$name => $text,)* }
            }
        }
    };
}

reasons! {
    /// A method dictionary changed (an edit, a class change): code that
    /// inlined what lookups found may be wrong.
    MethodsChanged = "methods-changed", "a method dictionary changed";
    /// Code compiled in the background inlined lookups a method dictionary
    /// change made stale before it was installed.
    ChangedWhileCompiling = "changed-while-compiling", "a method dictionary changed while it compiled";
    /// Sites kept leaving native code because their inline caches learnt
    /// classes after the method was compiled: compiled again.
    CachesOutgrown = "caches-outgrown", "inline caches learnt classes after it was compiled";
    /// Compiled before its sends had run (eager compilation): compiled
    /// again once they had met receivers.
    FirstFeedback = "first-feedback", "it was compiled before its sends had run";
    /// Its arithmetic met a SmallFloat after it was compiled without
    /// unboxed doubles: compiled again with them.
    FirstFloats = "first-floats", "its arithmetic met Doubles after it was compiled";
}

impl fmt::Display for DeoptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Deoptimisations counted by reason, and by reason and method (its
/// runtime record's index).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeoptCounts {
    counts: [u64; DeoptReason::ALL.len()],
    sites: std::collections::BTreeMap<(DeoptReason, usize), u64>,
}

impl DeoptCounts {
    /// Counts a deoptimisation of the native code of runtime record `rt`
    /// for `reason`.
    pub fn record(&mut self, reason: DeoptReason, rt: usize) {
        self.counts[reason as usize] += 1;
        *self.sites.entry((reason, rt)).or_default() += 1;
    }

    /// How many there were for `reason`.
    pub fn get(&self, reason: DeoptReason) -> u64 {
        self.counts[reason as usize]
    }

    /// How many there were in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Where they were: reason, runtime record and count, the most
    /// frequent first.
    pub fn sites(&self) -> Vec<(DeoptReason, usize, u64)> {
        let mut all: Vec<_> = self.sites.iter().map(|(&(r, rt), &n)| (r, rt, n)).collect();
        all.sort_by_key(|&(r, rt, n)| (std::cmp::Reverse(n), r, rt));
        all
    }

    /// The reasons that happened, with their counts, in declaration order.
    pub fn nonzero(&self) -> impl Iterator<Item = (DeoptReason, u64)> + '_ {
        DeoptReason::ALL.iter().map(|&r| (r, self.get(r))).filter(|&(_, n)| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reason() {
        let mut c = DeoptCounts::default();
        c.record(DeoptReason::CachesOutgrown, 5);
        c.record(DeoptReason::MethodsChanged, 9);
        c.record(DeoptReason::CachesOutgrown, 5);
        c.record(DeoptReason::CachesOutgrown, 2);
        assert_eq!(c.total(), 4);
        let seen: Vec<_> = c.nonzero().collect();
        assert_eq!(seen, [(DeoptReason::MethodsChanged, 1), (DeoptReason::CachesOutgrown, 3)]);
        assert_eq!(
            c.sites(),
            [
                (DeoptReason::CachesOutgrown, 5, 2),
                (DeoptReason::MethodsChanged, 9, 1),
                (DeoptReason::CachesOutgrown, 2, 1)
            ]
        );
        let keys: std::collections::HashSet<_> = DeoptReason::ALL.iter().map(|r| r.key()).collect();
        assert_eq!(keys.len(), DeoptReason::ALL.len(), "keys are distinct");
    }
}
