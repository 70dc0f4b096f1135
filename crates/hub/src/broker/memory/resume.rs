//! What a resume (`subscribe` with `since`) owes the client: which gaps to report, in
//! which order, and after which `seq` to replay history. Pure arithmetic on the client's
//! numbers, all of it checked: no `since` (up to `u64::MAX`) can wrap around.

use switchboard_protocol::server::GapReason;

/// A gap to report: `from`, `to` (`None`: open-ended, for an old epoch), and why.
pub(super) type Gap = (u64, Option<u64>, GapReason);

/// What to send after `subscribed`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ResumePlan {
    /// In the order the client should hear them: first that its epoch is gone (if it
    /// is), then any hole in what this epoch's history still holds.
    pub(super) gaps: Vec<Gap>,
    /// Replay every kept message with a `seq` above this; `None`: replay nothing.
    pub(super) replay_after: Option<u64>,
}

/// Why a `since` cannot be resumed from.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BadSince {
    /// Ahead of the channel's last `seq` in this epoch.
    Ahead,
    /// `u64::MAX` from another epoch: no message can follow it, so no client saw it.
    OutOfRange,
}

/// The plan for resuming after `since` on a channel whose last `seq` is `last_seq` and
/// whose history starts at `first_kept` (`last_seq + 1` when empty).
pub(super) fn plan(
    since: Option<u64>,
    epoch_changed: bool,
    last_seq: u64,
    first_kept: u64,
) -> Result<ResumePlan, BadSince> {
    let Some(since) = since else {
        return Ok(ResumePlan::default());
    };
    let mut gaps = Vec::new();
    let after = if epoch_changed {
        let from = since.checked_add(1).ok_or(BadSince::OutOfRange)?;
        gaps.push((from, None, GapReason::EpochChanged));
        0
    } else if since > last_seq {
        return Err(BadSince::Ahead);
    } else {
        since
    };
    // `after <= last_seq`, so `after + 1` only overflows when nothing can follow it.
    if let Some(first_missed) = after.checked_add(1)
        && first_missed < first_kept
    {
        gaps.push((
            first_missed,
            Some(first_kept - 1),
            GapReason::HistoryExceeded,
        ));
    }
    Ok(ResumePlan {
        gaps,
        replay_after: Some(after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_resume_has_no_gap() {
        let plan = plan(Some(5), false, 9, 3).unwrap();
        assert_eq!(plan.gaps, []);
        assert_eq!(plan.replay_after, Some(5));
    }

    #[test]
    fn what_history_no_longer_holds_is_one_gap() {
        let plan = plan(Some(1), false, 10, 7).unwrap();
        assert_eq!(plan.gaps, [(2, Some(6), GapReason::HistoryExceeded)]);
    }

    #[test]
    fn the_largest_since_neither_wraps_nor_panics() {
        // In this epoch it is ahead of any channel...
        assert_eq!(plan(Some(u64::MAX), false, 3, 1), Err(BadSince::Ahead));
        // ...and from another epoch nothing can follow it.
        assert_eq!(plan(Some(u64::MAX), true, 3, 1), Err(BadSince::OutOfRange));
        // A channel at the very end of the range: nothing after `since`, nothing lost.
        let plan_at_end = plan(Some(u64::MAX), false, u64::MAX, u64::MAX).unwrap();
        assert_eq!(plan_at_end.gaps, []);
        let one_before = plan(Some(u64::MAX - 1), true, 0, 1).unwrap();
        assert_eq!(one_before.gaps, [(u64::MAX, None, GapReason::EpochChanged)]);
    }

    #[test]
    fn an_old_epoch_is_reported_before_this_epochs_own_hole() {
        let plan = plan(Some(9), true, 5, 4).unwrap();
        assert_eq!(
            plan.gaps,
            [
                (10, None, GapReason::EpochChanged),
                (1, Some(3), GapReason::HistoryExceeded)
            ]
        );
        assert_eq!(plan.replay_after, Some(0));
    }
}
