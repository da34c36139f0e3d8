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

/// The N-way form of [`effective`]: `asked` and `ready` per version in card order (base,
/// new, then the others). The base and the new version are held as in [`effective`]; an
/// other version with no ready pod gives its share to the base (or, without a ready base,
/// to the new version). The shares keep summing to what was asked (100).
pub fn effective_n(asked: &[u8], ready: &[i32]) -> (Vec<u8>, Option<Held>) {
    let mut w = asked.to_vec();
    if w.len() < 2 || ready.len() != w.len() {
        return (w, None);
    }
    let mut held = None;
    if ready[1] <= 0 && w[1] > 0 {
        w[0] += w[1];
        w[1] = 0;
        held = Some(Held::NewNotReady);
    } else if ready[0] <= 0 && w[0] > 0 && ready[1] > 0 {
        w[1] += w[0];
        w[0] = 0;
        held = Some(Held::BaseNotReady);
    }
    for i in 2..w.len() {
        if ready[i] <= 0 && w[i] > 0 {
            let to = if ready[0] > 0 || ready[1] <= 0 { 0 } else { 1 };
            w[to] += w[i];
            w[i] = 0;
        }
    }
    (w, held)
}

/// An N-way control moved: version `index` asks for `value`. Locked versions keep their
/// share; the others (unlocked, not `index`) give or take the difference, the largest
/// first, so the shares always sum to 100. `value` is capped at what the locked versions
/// leave. Returns the new shares.
pub fn rebalance(shares: &[u8], locked: &[bool], index: usize, value: u8) -> Vec<u8> {
    let mut w: Vec<i32> = shares.iter().map(|&x| i32::from(x)).collect();
    if index >= w.len() {
        return shares.to_vec();
    }
    let is_locked = |i: usize| locked.get(i).copied().unwrap_or(false);
    let free: Vec<usize> = (0..w.len())
        .filter(|&i| i != index && !is_locked(i))
        .collect();
    let fixed: i32 = (0..w.len())
        .filter(|&i| i != index && is_locked(i))
        .map(|i| w[i])
        .sum();
    // Nothing else may move: the share cannot change.
    let cap = if free.is_empty() {
        w[index]
    } else {
        (100 - fixed).max(0)
    };
    let target = i32::from(value.min(100)).min(cap);
    let mut diff = target - w[index];
    w[index] = target;
    // Take from (or give to) the free versions, the largest share first for taking, the
    // smallest first for giving, one point at a time so no share goes below 0 or over 100.
    while diff != 0 && !free.is_empty() {
        let pick = if diff > 0 {
            free.iter()
                .copied()
                .filter(|&i| w[i] > 0)
                .max_by_key(|&i| (w[i], std::cmp::Reverse(i)))
        } else {
            free.iter()
                .copied()
                .filter(|&i| w[i] < 100)
                .min_by_key(|&i| (w[i], i))
        };
        let Some(i) = pick else { break };
        let step = if diff > 0 { 1 } else { -1 };
        w[i] -= step;
        diff -= step;
    }
    // A remainder means nothing could move: undo what could not be balanced.
    w[index] -= diff;
    w.into_iter().map(|x| x.clamp(0, 100) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_way_shares_skip_versions_without_ready_pods() {
        assert_eq!(
            effective_n(&[50, 20, 30], &[1, 1, 1]),
            (vec![50, 20, 30], None)
        );
        // v2 not ready: its share to v1; v3 not ready: its share to v1 too.
        assert_eq!(
            effective_n(&[50, 20, 30], &[1, 0, 0]),
            (vec![100, 0, 0], Some(Held::NewNotReady))
        );
        // v1 not ready: its share to v2, and v3's too.
        assert_eq!(
            effective_n(&[50, 20, 30], &[0, 1, 0]),
            (vec![0, 100, 0], Some(Held::BaseNotReady))
        );
        // Two versions: the same as `effective`.
        for (b, n) in [(1, 1), (1, 0), (0, 1), (0, 0)] {
            let (split, held) = effective(Split::with_new(30), b, n);
            assert_eq!(
                effective_n(&[70, 30], &[b, n]),
                (vec![split.base, split.new], held)
            );
        }
    }

    #[test]
    fn rebalancing_keeps_100_and_the_locked_shares() {
        let sum = |w: &[u8]| w.iter().map(|&x| u32::from(x)).sum::<u32>();
        // v2 up to 40: the largest unlocked share gives first, until they are level.
        assert_eq!(
            rebalance(&[50, 20, 30], &[false, false, false], 1, 40),
            vec![30, 40, 30]
        );
        // v3 locked at 30: only v1 moves, and v2 can go no higher than 70.
        assert_eq!(
            rebalance(&[50, 20, 30], &[false, false, true], 1, 90),
            vec![0, 70, 30]
        );
        // Down: the smallest unlocked share takes first.
        assert_eq!(
            rebalance(&[50, 20, 30], &[false, false, false], 0, 30),
            vec![30, 35, 35]
        );
        // Everything else locked: nothing moves.
        assert_eq!(
            rebalance(&[50, 20, 30], &[true, false, true], 1, 40),
            vec![50, 20, 30]
        );
        for index in 0..4 {
            for value in [0u8, 1, 33, 99, 100, 255] {
                for mask in 0..16u8 {
                    let locked: Vec<bool> = (0..4).map(|b| mask & (1 << b) != 0).collect();
                    let w = rebalance(&[10, 20, 30, 40], &locked, index, value);
                    assert_eq!(sum(&w), 100, "{index} {value} {locked:?} → {w:?}");
                    for (i, l) in locked.iter().enumerate() {
                        if *l && i != index {
                            assert_eq!(w[i], [10, 20, 30, 40][i], "locked {i} moved");
                        }
                    }
                }
            }
        }
    }

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
