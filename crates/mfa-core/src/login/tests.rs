//! The login's rules case by case (the README's "Several factors in one request").

use super::*;
use crate::policy::PasswordPolicy;

const DAY: i64 = 86_400;

fn now() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

use Method::{Passkey, Password, Push, Totp};

fn offer(password: bool, code: Option<CodeKind>, push: bool) -> Offer {
    Offer {
        password,
        new_password: false,
        code,
        push,
    }
}

fn flow(o: Offer, methods: &[Method], required: &[Method]) -> Flow {
    Flow::new(o, methods, required, PasswordPolicy::default(), now())
}

fn ending(f: &Flow) -> Ending {
    match f.next() {
        Step::Done(e) => e,
        other => panic!("not done: {other:?}"),
    }
}

fn deny_reason(f: &Flow) -> (String, String, Counting) {
    match ending(f) {
        Ending::Deny {
            reason,
            method,
            counting,
            ..
        } => (reason, method, counting),
        other => panic!("not a denial: {other:?}"),
    }
}

fn right(client: &str) -> CodeChecked {
    CodeChecked::Right {
        client: client.into(),
        left: None,
    }
}

fn found(days_ago: i64) -> PasswordFound {
    PasswordFound::Match {
        client: "tux".into(),
        changed_at: now().plus_secs(-days_ago * DAY),
    }
}

#[test]
fn an_offer_that_cannot_satisfy_the_policy_ends_before_anything_is_checked() {
    let any = [Push, Totp];
    let cases = [
        (
            offer(true, None, false),
            &any[..],
            &[][..],
            "method password is not allowed",
        ),
        (
            offer(false, Some(CodeKind::Totp), false),
            &[Push][..],
            &[][..],
            "method totp is not allowed",
        ),
        (
            offer(false, Some(CodeKind::Recovery), false),
            &[Password][..],
            &[][..],
            "a recovery code stands in for push or totp",
        ),
        (
            offer(false, None, true),
            &[Totp][..],
            &[][..],
            "method push is not allowed",
        ),
        (
            offer(false, None, false),
            &any[..],
            &[][..],
            "nothing to check",
        ),
        (
            offer(false, Some(CodeKind::Totp), false),
            &[Password, Totp][..],
            &[Password, Totp][..],
            "this login needs all of password,totp in one request; missing: password",
        ),
    ];
    for (o, methods, required, want) in cases {
        let f = flow(o, methods, required);
        let (reason, _, counting) = deny_reason(&f);
        assert!(reason.starts_with(want), "{reason}");
        assert_eq!(counting, Counting::None, "nothing was counted: {reason}");
    }
}

#[test]
fn a_totp_code_is_counted_then_checked() {
    let mut f = flow(
        offer(false, Some(CodeKind::Totp), false),
        &[Push, Totp],
        &[],
    );
    assert_eq!(f.next(), Step::CountAttempt);
    f.counted(None);
    assert_eq!(f.next(), Step::CheckCode(CodeKind::Totp));
    f.code_checked(right("tux"));
    assert_eq!(
        ending(&f),
        Ending::Allow {
            factors: Methods::from_one(Totp),
            warnings: vec![],
            client: Some("tux".into()),
            method: "totp".into(),
        }
    );
    let mut f = flow(offer(false, Some(CodeKind::Totp), false), &[Totp], &[]);
    f.counted(None);
    f.code_checked(CodeChecked::Wrong);
    assert_eq!(
        deny_reason(&f),
        (
            "invalid or already used code".into(),
            "totp".into(),
            Counting::Failed
        )
    );
}

#[test]
fn a_refused_attempt_compares_nothing() {
    let mut f = flow(
        offer(true, Some(CodeKind::Totp), false),
        &[Password, Totp],
        &[],
    );
    f.counted(Some(
        "user tux is locked out until T (too many failures)".into(),
    ));
    let (reason, method, counting) = deny_reason(&f);
    assert!(reason.contains("locked out"));
    assert_eq!(
        (method.as_str(), counting),
        ("password+totp", Counting::None)
    );
}

#[test]
fn the_password_comes_first_and_a_wrong_one_ends_it() {
    let both = [Password, Totp];
    let mut f = flow(offer(true, Some(CodeKind::Totp), false), &both, &both);
    f.counted(None);
    assert_eq!(f.next(), Step::CheckPassword);
    f.password_found(PasswordFound::None, "guess", None);
    assert_eq!(
        deny_reason(&f),
        ("wrong password".into(), "password".into(), Counting::Failed),
        "the code is never checked (nor burned)"
    );
    let mut f = flow(offer(true, Some(CodeKind::Totp), false), &both, &both);
    f.counted(None);
    f.password_found(found(1), "right", None);
    assert_eq!(f.next(), Step::CheckCode(CodeKind::Totp));
    f.code_checked(right("tux"));
    match ending(&f) {
        Ending::Allow {
            factors, method, ..
        } => {
            assert_eq!(factors, Methods::new([Password, Totp]).unwrap());
            assert_eq!(method, "password+totp");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_push_goes_last_and_gives_back_the_attempt_its_companions_used() {
    let mut f = flow(
        offer(true, None, true),
        &[Password, Push],
        &[Password, Push],
    );
    f.counted(None);
    f.password_found(found(1), "right", None);
    match f.next() {
        Step::SendPush {
            factors, counting, ..
        } => {
            assert_eq!(factors, Some(Methods::new([Password, Push]).unwrap()));
            assert_eq!(counting, Counting::Refund);
        }
        other => panic!("{other:?}"),
    }
    // A push alone is not counted at all (its denial or expiry counts later).
    let f = flow(offer(false, None, true), &[Push, Totp], &[]);
    assert_eq!(
        f.next(),
        Step::SendPush {
            factors: None,
            counting: Counting::None,
            warnings: vec![]
        }
    );
}

#[test]
fn a_required_passkey_makes_the_push_a_passkey_push_and_nothing_stands_in_for_it() {
    let pushed = |f: Flow| match f.next() {
        Step::SendPush { factors, .. } => factors.map(|m| m.to_string()),
        other => panic!("{other:?}"),
    };
    // Required: the push carries passkey (only a passkey approval decides it).
    let f = flow(offer(false, None, true), &[Passkey], &[Passkey]);
    assert_eq!(pushed(f).as_deref(), Some("push,passkey"));
    // Allowed without a plain push: the same.
    let f = flow(offer(false, None, true), &[Totp, Passkey], &[]);
    assert_eq!(pushed(f).as_deref(), Some("push,passkey"));
    // Allowed beside push: a plain push.
    let f = flow(offer(false, None, true), &[Push, Passkey], &[]);
    assert_eq!(pushed(f), None);
    // With a password first.
    let mut f = flow(
        offer(true, None, true),
        &[Password, Passkey],
        &[Password, Passkey],
    );
    f.counted(None);
    f.password_found(found(1), "right", None);
    assert_eq!(pushed(f).as_deref(), Some("push,password,passkey"));
    // A code (TOTP or recovery) is no passkey.
    for code in [CodeKind::Totp, CodeKind::Recovery] {
        let f = flow(offer(false, Some(code), false), &[Passkey], &[Passkey]);
        let (reason, _, counting) = deny_reason(&f);
        assert!(reason.contains("allowed: passkey"), "{code:?}: {reason}");
        assert_eq!(counting, Counting::None);
    }
}

#[test]
fn an_expired_password_works_only_to_change_it() {
    let policy = PasswordPolicy::default(); // 90 days, 30 more to change it
    let mut f = flow(offer(true, None, false), &[Password], &[]);
    f.counted(None);
    f.password_found(found(100), "old", None);
    match ending(&f) {
        Ending::Deny {
            reason,
            change_password,
            counting,
            ..
        } => {
            assert!(
                reason.contains("send it again with new_password"),
                "{reason}"
            );
            assert!(change_password);
            assert_eq!(counting, Counting::Refund, "a right password is no failure");
        }
        other => panic!("{other:?}"),
    }
    let o = Offer {
        new_password: true,
        ..offer(true, None, false)
    };
    let mut f = Flow::new(o, &[Password], &[], policy, now());
    f.counted(None);
    f.password_found(found(100), "old", Some("brand new secret"));
    assert_eq!(
        f.next(),
        Step::ChangePassword {
            client: "tux".into()
        }
    );
    f.password_changed(true);
    assert!(matches!(ending(&f), Ending::Allow { .. }));
    // Another change won the race.
    let mut f = Flow::new(o, &[Password], &[], policy, now());
    f.counted(None);
    f.password_found(found(100), "old", Some("brand new secret"));
    f.password_changed(false);
    assert!(deny_reason(&f).0.contains("changed meanwhile"));
    // Too late, too short, the same, too soon.
    for (days, new, want) in [
        (130, "brand new secret", "can no longer be used"),
        (100, "short", "new_password: the password is too short"),
        (100, "the old secret", "must differ from the old one"),
    ] {
        let mut f = Flow::new(o, &[Password], &[], policy, now());
        f.counted(None);
        f.password_found(found(days), "the old secret", Some(new));
        let (reason, _, counting) = deny_reason(&f);
        assert!(reason.contains(want), "{days} {new}: {reason}");
        assert_eq!(counting, Counting::Refund);
    }
    let strict = PasswordPolicy {
        min_days: 7,
        ..policy
    };
    let mut f = Flow::new(o, &[Password], &[], strict, now());
    f.counted(None);
    f.password_found(found(1), "old", Some("brand new secret"));
    assert!(deny_reason(&f).0.contains("min_days"));
}

#[test]
fn a_password_about_to_expire_warns() {
    let mut f = flow(offer(true, None, false), &[Password], &[]);
    f.counted(None);
    f.password_found(found(80), "right", None);
    match ending(&f) {
        Ending::Allow { warnings, .. } => {
            assert_eq!(warnings.len(), 1);
            assert!(warnings[0].contains("your password expires on"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_recovery_code_stands_in_for_the_device_factor_and_warns_when_few_are_left() {
    // Any one factor: it counts as TOTP.
    let mut f = flow(
        offer(false, Some(CodeKind::Recovery), false),
        &[Push, Totp],
        &[],
    );
    f.counted(None);
    assert_eq!(f.next(), Step::CheckCode(CodeKind::Recovery));
    f.code_checked(CodeChecked::Right {
        client: "tux".into(),
        left: Some(3),
    });
    match ending(&f) {
        Ending::Allow {
            factors,
            warnings,
            method,
            ..
        } => {
            assert_eq!(factors, Methods::from_one(Totp));
            assert_eq!(method, "recovery");
            assert_eq!(
                warnings,
                [
                    "3 recovery codes left: ask an admin for new ones (mfac client recovery-codes tux)"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    // Push required: it counts as the push.
    let o = offer(false, Some(CodeKind::Recovery), false);
    assert_eq!(o.recovery_stands_for(&[Push]), Push);
    assert_eq!(o.mismatch(&[Push], &[Push]), None);
    // Push and TOTP required, a push offered: the code counts as the TOTP.
    let o = offer(false, Some(CodeKind::Recovery), true);
    assert_eq!(o.recovery_stands_for(&[Push, Totp]), Totp);
    assert_eq!(o.factors(&[Push, Totp]), [Push, Totp]);
    // Wrong: counted as a failure.
    let mut f = flow(offer(false, Some(CodeKind::Recovery), false), &[Totp], &[]);
    f.counted(None);
    f.code_checked(CodeChecked::Wrong);
    assert_eq!(
        deny_reason(&f),
        (
            "invalid or already used recovery code".into(),
            "recovery".into(),
            Counting::Failed
        )
    );
    let mut f = flow(offer(false, Some(CodeKind::Recovery), false), &[Totp], &[]);
    f.counted(None);
    f.code_checked(CodeChecked::Right {
        client: "tux".into(),
        left: Some(1),
    });
    match ending(&f) {
        Ending::Allow { warnings, .. } => assert!(warnings[0].starts_with("1 recovery code left")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_audit_label_names_what_was_offered() {
    assert_eq!(
        offer(true, Some(CodeKind::Totp), true).label(),
        "password+totp+push"
    );
    assert_eq!(
        offer(false, Some(CodeKind::Recovery), false).label(),
        "recovery"
    );
    assert_eq!(offer(false, None, true).label(), "push");
}
