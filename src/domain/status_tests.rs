//! Tests of the order-status table: every (status, event) pair against an expectation written as data, and
//! the races and IB quirks by name.

#![expect(clippy::unwrap_used, reason = "tests")]

use rust_decimal::Decimal;

use super::OrderEvent as E;
use super::OrderStatus as S;
use super::*;

/// Every allowed pair and where it leads, written out one row per pair, independently of `transition`.
const ALLOWED: &[(S, E, S)] = &[
    (S::PendingSubmit, E::Acknowledged, S::PendingSubmit),
    (S::PendingSubmit, E::Accepted, S::PreSubmitted),
    (S::PendingSubmit, E::Working, S::Submitted),
    (S::PendingSubmit, E::PartFilled, S::PartiallyFilled),
    (S::PendingSubmit, E::Filled, S::Filled),
    (S::PendingSubmit, E::CancelRequested, S::PendingCancel),
    (S::PendingSubmit, E::Cancelled, S::Cancelled),
    (S::PendingSubmit, E::Rejected, S::Rejected),
    (S::PendingSubmit, E::Deactivated, S::Inactive),
    //
    (S::PreSubmitted, E::Accepted, S::PreSubmitted),
    (S::PreSubmitted, E::Working, S::Submitted),
    (S::PreSubmitted, E::PartFilled, S::PartiallyFilled),
    (S::PreSubmitted, E::Filled, S::Filled),
    (S::PreSubmitted, E::CancelRequested, S::PendingCancel),
    (S::PreSubmitted, E::Cancelled, S::Cancelled),
    (S::PreSubmitted, E::Rejected, S::Rejected),
    (S::PreSubmitted, E::Deactivated, S::Inactive),
    //
    (S::Submitted, E::Accepted, S::PreSubmitted),
    (S::Submitted, E::Working, S::Submitted),
    (S::Submitted, E::PartFilled, S::PartiallyFilled),
    (S::Submitted, E::Filled, S::Filled),
    (S::Submitted, E::CancelRequested, S::PendingCancel),
    (S::Submitted, E::Cancelled, S::Cancelled),
    (S::Submitted, E::Rejected, S::Rejected),
    (S::Submitted, E::Deactivated, S::Inactive),
    //
    (S::PartiallyFilled, E::Accepted, S::PreSubmitted),
    (S::PartiallyFilled, E::PartFilled, S::PartiallyFilled),
    (S::PartiallyFilled, E::Filled, S::Filled),
    (S::PartiallyFilled, E::CancelRequested, S::PendingCancel),
    (S::PartiallyFilled, E::Cancelled, S::Cancelled),
    (S::PartiallyFilled, E::Deactivated, S::Inactive),
    //
    (S::PendingCancel, E::Accepted, S::PendingCancel),
    (S::PendingCancel, E::Working, S::PendingCancel),
    (S::PendingCancel, E::PartFilled, S::PendingCancel),
    (S::PendingCancel, E::Filled, S::Filled),
    (S::PendingCancel, E::CancelRequested, S::PendingCancel),
    (S::PendingCancel, E::CancelRefused, S::Submitted),
    (S::PendingCancel, E::Cancelled, S::Cancelled),
    (S::PendingCancel, E::Rejected, S::Rejected),
    (S::PendingCancel, E::Deactivated, S::Inactive),
    //
    (S::Inactive, E::Accepted, S::PreSubmitted),
    (S::Inactive, E::Working, S::Submitted),
    (S::Inactive, E::PartFilled, S::PartiallyFilled),
    (S::Inactive, E::Filled, S::Filled),
    (S::Inactive, E::CancelRequested, S::PendingCancel),
    (S::Inactive, E::Cancelled, S::Cancelled),
    (S::Inactive, E::Rejected, S::Rejected),
    (S::Inactive, E::Deactivated, S::Inactive),
    //
    (S::Filled, E::Filled, S::Filled),
    (S::Filled, E::CancelRefused, S::Filled),
    //
    (S::Cancelled, E::Cancelled, S::Cancelled),
    (S::Cancelled, E::CancelRefused, S::Cancelled),
    //
    (S::Rejected, E::Rejected, S::Rejected),
    (S::Rejected, E::Cancelled, S::Rejected),
    (S::Rejected, E::Deactivated, S::Rejected),
    (S::Rejected, E::CancelRefused, S::Rejected),
];

/// Applies `events` in order from `start`, stopping at the first refusal.
fn run(start: S, events: &[E]) -> Result<S, TransitionError> {
    events
        .iter()
        .try_fold(start, |status, &event| transition(status, event))
}

#[test]
fn every_pair_matches_the_expectation_table() {
    let mut checked = 0;
    for status in S::ALL {
        for event in E::ALL {
            let expected = ALLOWED
                .iter()
                .find(|&&(s, e, _)| s == status && e == event)
                .map(|&(_, _, to)| to);
            let actual = transition(status, event);
            match expected {
                Some(to) => assert_eq!(actual, Ok(to), "({status:?}, {event:?})"),
                None => assert_eq!(
                    actual,
                    Err(TransitionError { status, event }),
                    "({status:?}, {event:?})"
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 90);
}

#[test]
fn expectation_table_has_no_duplicate_rows() {
    for (i, &(s, e, _)) in ALLOWED.iter().enumerate() {
        assert!(
            !ALLOWED[i + 1..].iter().any(|&(s2, e2, _)| s2 == s && e2 == e),
            "({s:?}, {e:?}) twice"
        );
    }
}

#[test]
fn all_lists_every_variant_once() {
    for (i, s) in S::ALL.iter().enumerate() {
        assert!(!S::ALL[i + 1..].contains(s), "{s:?} twice");
    }
    for (i, e) in E::ALL.iter().enumerate() {
        assert!(!E::ALL[i + 1..].contains(e), "{e:?} twice");
    }
}

#[test]
fn a_normal_order_fills_in_steps() {
    let events = [
        E::Acknowledged,
        E::Accepted,
        E::Working,
        E::PartFilled,
        E::PartFilled,
        E::Filled,
    ];
    assert_eq!(run(S::PendingSubmit, &events), Ok(S::Filled));
}

#[test]
fn fill_racing_a_cancel_keeps_the_cancel_pending() {
    assert_eq!(
        run(S::Submitted, &[E::CancelRequested, E::PartFilled]),
        Ok(S::PendingCancel)
    );
    assert_eq!(
        run(S::Submitted, &[E::CancelRequested, E::PartFilled, E::Cancelled]),
        Ok(S::Cancelled)
    );
}

#[test]
fn full_fill_wins_the_race_and_the_late_cancel_refusal_is_absorbed() {
    assert_eq!(
        run(
            S::PartiallyFilled,
            &[E::CancelRequested, E::Filled, E::CancelRefused]
        ),
        Ok(S::Filled)
    );
}

#[test]
fn refused_cancel_returns_to_submitted() {
    assert_eq!(
        run(S::PartiallyFilled, &[E::CancelRequested, E::CancelRefused]),
        Ok(S::Submitted)
    );
    assert_eq!(
        run(
            S::Submitted,
            &[E::CancelRequested, E::CancelRefused, E::PartFilled]
        ),
        Ok(S::PartiallyFilled)
    );
    // A refusal without a pending cancel is not ours to explain.
    assert!(transition(S::Submitted, E::CancelRefused).is_err());
}

#[test]
fn pending_cancel_ignores_stale_working_echoes() {
    assert_eq!(
        run(S::PreSubmitted, &[E::CancelRequested, E::Accepted, E::Working]),
        Ok(S::PendingCancel)
    );
}

#[test]
fn terminal_states_refuse_everything_but_repeats_and_late_refusals() {
    for status in [S::Filled, S::Cancelled, S::Rejected] {
        assert!(status.is_terminal());
        for event in E::ALL {
            match transition(status, event) {
                Ok(next) => assert_eq!(next, status, "{status:?} left by {event:?}"),
                Err(err) => assert_eq!(err, TransitionError { status, event }),
            }
        }
        for event in [
            E::Acknowledged,
            E::Accepted,
            E::Working,
            E::PartFilled,
            E::CancelRequested,
        ] {
            assert!(
                transition(status, event).is_err(),
                "{status:?} accepted {event:?}"
            );
        }
    }
    assert!(transition(S::Cancelled, E::Filled).is_err());
    assert!(transition(S::Filled, E::Cancelled).is_err());
}

#[test]
fn rejected_absorbs_ibs_trailing_status() {
    assert_eq!(
        run(S::PendingSubmit, &[E::Rejected, E::Cancelled]),
        Ok(S::Rejected)
    );
    assert_eq!(
        run(S::PendingSubmit, &[E::Rejected, E::Deactivated]),
        Ok(S::Rejected)
    );
}

#[test]
fn parked_order_goes_back_to_presubmitted_and_resumes() {
    assert_eq!(
        run(S::PartiallyFilled, &[E::Accepted, E::PartFilled]),
        Ok(S::PartiallyFilled)
    );
    assert_eq!(run(S::Submitted, &[E::Accepted, E::Working]), Ok(S::Submitted));
}

#[test]
fn partially_filled_does_not_go_back_to_unfilled() {
    assert!(transition(S::PartiallyFilled, E::Working).is_err());
    assert!(transition(S::PartiallyFilled, E::Acknowledged).is_err());
    assert!(transition(S::PartiallyFilled, E::Rejected).is_err());
}

#[test]
fn inactive_is_open_and_can_come_back() {
    assert!(S::Inactive.is_open() && !S::Inactive.is_working() && !S::Inactive.is_terminal());
    assert_eq!(run(S::Submitted, &[E::Deactivated, E::Working]), Ok(S::Submitted));
}

#[test]
fn repeating_the_reported_status_is_idempotent() {
    for status in S::ALL {
        assert_eq!(transition(status, E::reported(status)), Ok(status), "{status:?}");
    }
}

#[test]
fn refusal_names_status_and_event() {
    let err = transition(S::Filled, E::Working).unwrap_err();
    assert_eq!(
        err.to_string(),
        "order event 'Working' is not allowed in status 'Filled'"
    );
}

#[test]
fn status_classes() {
    let working: Vec<S> = S::ALL.into_iter().filter(|s| s.is_working()).collect();
    assert_eq!(
        working,
        [
            S::PreSubmitted,
            S::Submitted,
            S::PartiallyFilled,
            S::PendingCancel
        ]
    );
    let open: Vec<S> = S::ALL.into_iter().filter(|s| s.is_open()).collect();
    assert_eq!(
        open,
        [
            S::PendingSubmit,
            S::PreSubmitted,
            S::Submitted,
            S::PartiallyFilled,
            S::PendingCancel,
            S::Inactive
        ]
    );
    assert!(S::ALL.iter().all(|s| s.is_working() <= s.is_open()));
}

#[test]
fn from_ib_maps_every_tws_status() {
    let zero = Decimal::ZERO;
    let d = Decimal::from;
    for (text, expected) in [
        ("ApiPending", S::PendingSubmit),
        ("PendingSubmit", S::PendingSubmit),
        ("PendingCancel", S::PendingCancel),
        ("PreSubmitted", S::PreSubmitted),
        ("Submitted", S::Submitted),
        ("ApiCancelled", S::Cancelled),
        ("Cancelled", S::Cancelled),
        ("Filled", S::Filled),
        ("Inactive", S::Inactive),
    ] {
        assert_eq!(S::from_ib(text, zero, d(100)), Some(expected), "{text}");
    }
    assert_eq!(S::from_ib("Submitted", d(40), d(60)), Some(S::PartiallyFilled));
    assert_eq!(S::from_ib("Submitted", d(100), zero), Some(S::Filled));
    assert_eq!(S::from_ib("PreSubmitted", d(40), d(60)), Some(S::PreSubmitted));
    assert_eq!(S::from_ib("Cancelled", d(40), zero), Some(S::Cancelled));
    assert_eq!(S::from_ib("PartiallyFilled", d(40), d(60)), None);
    assert_eq!(S::from_ib("submitted", zero, d(100)), None);
    assert_eq!(S::from_ib("", zero, zero), None);
}

#[test]
fn serde_uses_the_status_names() {
    assert_eq!(
        serde_json::to_string(&S::PendingCancel).unwrap(),
        "\"PendingCancel\""
    );
    assert_eq!(
        serde_json::from_str::<E>("\"CancelRefused\"").unwrap(),
        E::CancelRefused
    );
}
