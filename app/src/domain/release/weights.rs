//! The traffic split actually applied, given what the job asks and which versions have
//! ready pods. The rule users rely on: traffic never goes to a version with no ready pods.

use super::{Side, Strategy};

/// Percentages for (base, new); they always sum to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub base: u8,
    pub new: u8,
}

impl Split {
    pub const ALL_BASE: Split = Split { base: 100, new: 0 };
    pub const ALL_NEW: Split = Split { base: 0, new: 100 };

    /// The split for a requested share of the new version, clamped to 0..=100.
    pub fn with_new(new_percent: u8) -> Split {
        let new = new_percent.min(100);
        Split {
            base: 100 - new,
            new,
        }
    }
}

/// Why the applied split differs from the requested one, when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The new version has no ready pod yet: everything stays on the base.
    NewNotReady,
    /// The base has no ready pod: everything goes to the new version.
    BaseNotReady,
}

/// The split the job asks for, before readiness.
pub fn requested(strategy: &Strategy, taken_over_by: Option<Side>) -> Split {
    match (taken_over_by, strategy) {
        (Some(Side::Base), _) => Split::ALL_BASE,
        (Some(Side::New), _) => Split::ALL_NEW,
        (None, Strategy::TrafficRatio { new_percent }) => Split::with_new(*new_percent),
        (
            None,
            Strategy::BlueGreen {
                serving: Side::Base,
            },
        ) => Split::ALL_BASE,
        (None, Strategy::BlueGreen { serving: Side::New }) => Split::ALL_NEW,
        // Content rules and mirroring send the ordinary (unmatched, unmirrored) traffic to
        // the base; matched requests are routed by the rules.
        (None, Strategy::RequestContent { .. } | Strategy::Mirroring { .. }) => Split::ALL_BASE,
    }
}

/// The split that is safe to apply. Content rules route matched requests to the new
/// version too, so `routes_to_new` says whether the new version gets any traffic at all.
pub fn effective(requested: Split, base_ready: i32, new_ready: i32) -> (Split, Option<Held>) {
    if new_ready <= 0 && requested.new > 0 {
        (Split::ALL_BASE, Some(Held::NewNotReady))
    } else if base_ready <= 0 && requested.base > 0 && new_ready > 0 {
        (Split::ALL_NEW, Some(Held::BaseNotReady))
    } else {
        (requested, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_split_sums_to_100() {
        for p in 0..=255u8 {
            let s = Split::with_new(p);
            assert_eq!(u16::from(s.base) + u16::from(s.new), 100, "{p}");
        }
    }

    #[test]
    fn take_over_wins_over_the_strategy() {
        let ratio = Strategy::TrafficRatio { new_percent: 30 };
        assert_eq!(requested(&ratio, None), Split { base: 70, new: 30 });
        assert_eq!(requested(&ratio, Some(Side::New)), Split::ALL_NEW);
        assert_eq!(requested(&ratio, Some(Side::Base)), Split::ALL_BASE);
        let bg = Strategy::BlueGreen { serving: Side::New };
        assert_eq!(requested(&bg, None), Split::ALL_NEW);
    }

    #[test]
    fn no_traffic_to_a_version_without_ready_pods() {
        let asked = Split::with_new(30);
        assert_eq!(
            effective(asked, 1, 0),
            (Split::ALL_BASE, Some(Held::NewNotReady))
        );
        assert_eq!(
            effective(asked, 0, 2),
            (Split::ALL_NEW, Some(Held::BaseNotReady))
        );
        assert_eq!(effective(asked, 1, 1), (asked, None));
        // Nothing ready anywhere: keep the request rather than invent one.
        assert_eq!(effective(Split::ALL_BASE, 0, 0), (Split::ALL_BASE, None));
    }
}
