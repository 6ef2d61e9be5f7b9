//! The flow against a scripted conversation and a scripted mfad.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::*;
use crate::refusal::Refusal;

#[derive(Default)]
struct Script {
    answers: VecDeque<Result<String, String>>,
    prompts: Vec<(String, bool)>,
    errors: Vec<String>,
    infos: Vec<String>,
    /// A clock each prompt moves on by the given time (a person typing slowly).
    typing: Option<(Rc<Cell<Instant>>, Duration)>,
}

impl Conversation for Script {
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String> {
        self.prompts.push((text.to_owned(), echo));
        if let Some((clock, took)) = &self.typing {
            clock.set(clock.get() + *took);
        }
        self.answers
            .pop_front()
            .unwrap_or(Err("no answer scripted".into()))
    }
    fn error(&mut self, text: &str) {
        self.errors.push(text.to_owned());
    }
    fn info(&mut self, text: &str) {
        self.infos.push(text.to_owned());
    }
}

#[derive(Default)]
struct FakeMfad {
    preauth: RefCell<VecDeque<Result<PreauthResponse, ApiError>>>,
    auth: RefCell<VecDeque<Result<ServerAuthResponse, ApiError>>>,
    status: RefCell<VecDeque<Result<AuthStatus, ApiError>>>,
    auth_requests: RefCell<Vec<ServerAuthRequest>>,
    cancelled: RefCell<Vec<String>>,
    /// The `wait` of each status poll.
    waits: RefCell<Vec<Duration>>,
    /// The time limit of each call.
    limits: RefCell<Vec<Duration>>,
    withdrawals: RefCell<Vec<Withdrawal>>,
}

impl MfaApi for FakeMfad {
    fn preauth(&self, _: &PreauthRequest, limit: Duration) -> Result<PreauthResponse, ApiError> {
        self.limits.borrow_mut().push(limit);
        self.preauth
            .borrow_mut()
            .pop_front()
            .unwrap_or(Err(ApiError::Refused("unscripted".into())))
    }
    fn auth(
        &self,
        req: &ServerAuthRequest,
        limit: Duration,
    ) -> Result<ServerAuthResponse, ApiError> {
        self.limits.borrow_mut().push(limit);
        self.auth_requests.borrow_mut().push(req.clone());
        self.auth
            .borrow_mut()
            .pop_front()
            .unwrap_or(Err(ApiError::Refused("unscripted".into())))
    }
    fn status(&self, _: &str, wait: Duration, limit: Duration) -> Result<AuthStatus, ApiError> {
        self.limits.borrow_mut().push(limit);
        self.waits.borrow_mut().push(wait);
        self.status
            .borrow_mut()
            .pop_front()
            .unwrap_or(Err(ApiError::Refused("unscripted".into())))
    }
    fn cancel(&self, txid: &str, why: Withdrawal, limit: Duration) -> Result<AuthStatus, ApiError> {
        self.limits.borrow_mut().push(limit);
        self.cancelled.borrow_mut().push(txid.to_owned());
        self.withdrawals.borrow_mut().push(why);
        Err(ApiError::Refused("cancel is best effort".into()))
    }
}

fn pre(result: PreauthResult, methods: &[&str]) -> Result<PreauthResponse, ApiError> {
    Ok(PreauthResponse {
        result,
        reason: Some("r".into()),
        methods: methods.iter().map(|m| m.to_string()).collect(),
        required: vec![],
    })
}

/// `auth` with every one of `required`.
fn pre_all(required: &[&str]) -> Result<PreauthResponse, ApiError> {
    Ok(PreauthResponse {
        result: PreauthResult::Auth,
        reason: None,
        methods: required.iter().map(|m| m.to_string()).collect(),
        required: required.iter().map(|m| m.to_string()).collect(),
    })
}

fn pending(number: Option<u8>) -> Result<ServerAuthResponse, ApiError> {
    Ok(ServerAuthResponse {
        result: AuthResult::Pending,
        reason: None,
        txid: Some("tx".into()),
        number,
        expires_at: None,
        warning: None,
        change_password: None,
        elevated_until: None,
        device_url: None,
    })
}

fn answer(result: AuthResult) -> Result<ServerAuthResponse, ApiError> {
    Ok(ServerAuthResponse {
        result,
        reason: Some("because".into()),
        txid: None,
        number: None,
        expires_at: None,
        warning: None,
        change_password: None,
        elevated_until: None,
        device_url: None,
    })
}

fn status(result: AuthResult, state: &str) -> Result<AuthStatus, ApiError> {
    Ok(AuthStatus {
        txid: "tx".into(),
        result,
        state: state.into(),
        reason: None,
        elevated_until: None,
    })
}

fn run(mfad: &FakeMfad, conv: &mut Script, failmode: FailMode, push_only: bool) -> Outcome {
    let login = Login {
        user: "tux".into(),
        host: "h".into(),
        service: "sshd".into(),
        client_ip: Some("192.0.2.1".into()),
    };
    let prompts = Prompts::default();
    let start = Instant::now();
    let mut flow = Flow {
        login: &login,
        settings: Settings {
            failmode,
            push_only,
            deadline: start + Duration::from_secs(30),
            prompts: &prompts,
            remember: 0,
        },
        conv,
        api: mfad,
        now: &Instant::now,
    };
    flow.run()
}

fn allowed(o: &Outcome) -> bool {
    matches!(o, Outcome::Allow(_) | Outcome::AllowFailSafe(_))
}

#[test]
fn the_number_is_in_the_prompt_and_enter_waits_for_the_push() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push", "totp"]));
    mfad.auth.borrow_mut().push_back(pending(Some(42)));
    mfad.status.borrow_mut().extend([
        status(AuthResult::Pending, "pending"),
        status(AuthResult::Allow, "approved"),
    ]);
    let mut conv = Script {
        answers: [Ok(String::new())].into(),
        ..Default::default()
    };
    assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, false)));
    let (text, echo) = &conv.prompts[0];
    assert!(text.contains("(number 42)"), "{text}");
    assert!(!echo);
}

#[test]
fn a_required_passkey_shows_the_device_link_and_waits_for_the_push() {
    let mfad = FakeMfad::default();
    mfad.preauth.borrow_mut().push_back(pre_all(&["passkey"]));
    let mut sent = pending(Some(42)).unwrap();
    sent.device_url = Some("https://mfa.example.org/d/7KQP-ZX4M".into());
    mfad.auth.borrow_mut().push_back(Ok(sent));
    mfad.status
        .borrow_mut()
        .push_back(status(AuthResult::Allow, "approved"));
    let mut conv = Script {
        // Whatever is typed, it is no code: the push decides.
        answers: [Ok("123456".into())].into(),
        ..Default::default()
    };
    assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, false)));
    let (text, _) = &conv.prompts[0];
    assert_eq!(
        text,
        "Open https://mfa.example.org/d/7KQP-ZX4M and confirm with your passkey, then press Enter: "
    );
    let sent = mfad.auth_requests.borrow();
    assert_eq!(sent.len(), 1, "one request: the push");
    assert_eq!(sent[0].method, AuthMethod::Push);
    assert!(sent[0].passcode.is_none());

    // No device link in the answer: withdrawn and denied, never waited on blindly.
    let mfad = FakeMfad::default();
    mfad.preauth.borrow_mut().push_back(pre_all(&["passkey"]));
    mfad.auth.borrow_mut().push_back(pending(None));
    let mut conv = Script::default();
    assert!(!allowed(&run(&mfad, &mut conv, FailMode::Safe, false)));
    assert_eq!(*mfad.withdrawals.borrow(), [Withdrawal::Abandoned]);
    assert!(conv.prompts.is_empty());
}

#[test]
fn a_typed_code_is_verified_as_totp_instead() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push", "totp"]));
    mfad.auth
        .borrow_mut()
        .extend([pending(Some(42)), answer(AuthResult::Allow)]);
    let mut conv = Script {
        answers: [Ok(" 123456 ".into())].into(),
        ..Default::default()
    };
    assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, false)));
    let sent = mfad.auth_requests.borrow();
    assert_eq!(sent[1].method, AuthMethod::Totp);
    assert_eq!(sent[1].passcode.as_deref(), Some("123456"));
    assert_eq!(*mfad.cancelled.borrow(), ["tx"], "the push is withdrawn");
    assert_eq!(*mfad.withdrawals.borrow(), [Withdrawal::CodeUsed]);
}

#[test]
fn totp_only_logins_get_the_code_prompt() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["totp"]));
    mfad.auth.borrow_mut().push_back(answer(AuthResult::Deny));
    let mut conv = Script {
        answers: [Ok("000000".into())].into(),
        ..Default::default()
    };
    assert_eq!(
        run(&mfad, &mut conv, FailMode::Secure, false),
        Outcome::Deny {
            why: "because".into(),
            tell: Refusal::Policy
        }
    );
    assert_eq!(
        conv.prompts,
        vec![("Verification code: ".to_owned(), false)]
    );
}

#[test]
fn push_only_never_prompts_and_asks_for_no_number() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push"]));
    mfad.auth.borrow_mut().push_back(pending(None));
    mfad.status
        .borrow_mut()
        .push_back(status(AuthResult::Deny, "denied"));
    let mut conv = Script::default();
    assert!(!allowed(&run(&mfad, &mut conv, FailMode::Secure, true)));
    assert!(conv.prompts.is_empty());
    assert_eq!(mfad.auth_requests.borrow()[0].number_matching, Some(false));
}

#[test]
fn failmode_decides_only_when_mfad_is_unreachable() {
    for (failmode, want_allow) in [(FailMode::Secure, false), (FailMode::Safe, true)] {
        let mfad = FakeMfad::default();
        mfad.preauth
            .borrow_mut()
            .push_back(Err(ApiError::Unreachable("connection refused".into())));
        assert_eq!(
            allowed(&run(&mfad, &mut Script::default(), failmode, false)),
            want_allow
        );
        // A refusal (bad token, host not covered) denies even in safe mode.
        let mfad = FakeMfad::default();
        mfad.preauth
            .borrow_mut()
            .push_back(Err(ApiError::Refused("401".into())));
        assert!(!allowed(&run(
            &mfad,
            &mut Script::default(),
            failmode,
            false
        )));
    }
}

#[test]
fn preauth_allow_and_deny_are_final() {
    for (result, want) in [(PreauthResult::Allow, true), (PreauthResult::Deny, false)] {
        let mfad = FakeMfad::default();
        mfad.preauth.borrow_mut().push_back(pre(result, &[]));
        let mut conv = Script::default();
        assert_eq!(
            allowed(&run(&mfad, &mut conv, FailMode::Secure, false)),
            want
        );
        assert!(conv.prompts.is_empty());
    }
}

#[test]
fn a_failed_conversation_denies_even_in_safe_mode() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["totp"]));
    let mut conv = Script {
        answers: [Err("conversation error".into())].into(),
        ..Default::default()
    };
    assert!(!allowed(&run(&mfad, &mut conv, FailMode::Safe, false)));
}

#[test]
fn the_module_stops_at_its_own_deadline() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push"]));
    mfad.auth.borrow_mut().push_back(pending(Some(10)));
    let login = Login {
        user: "tux".into(),
        host: "h".into(),
        service: "sshd".into(),
        client_ip: None,
    };
    let prompts = Prompts::default();
    // Enter pressed 29 s into a 30 s timeout: no time for a poll, just for the withdrawal.
    let start = Instant::now();
    let clock = Rc::new(Cell::new(start));
    let mut conv = Script {
        answers: [Ok(String::new())].into(),
        typing: Some((clock.clone(), Duration::from_secs(29))),
        ..Default::default()
    };
    let now = move || clock.get();
    let mut flow = Flow {
        login: &login,
        settings: Settings {
            failmode: FailMode::Safe,
            push_only: false,
            deadline: start + Duration::from_secs(30),
            prompts: &prompts,
            remember: 0,
        },
        conv: &mut conv,
        api: &mfad,
        now: &now,
    };
    match flow.run() {
        Outcome::Deny { why, .. } => assert!(why.contains("timed out"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(*mfad.cancelled.borrow(), ["tx"], "the push is withdrawn");
    assert!(mfad.waits.borrow().is_empty());
    assert_eq!(mfad.limits.borrow().last(), Some(&Duration::from_secs(1)));
    assert_eq!(*mfad.withdrawals.borrow(), [Withdrawal::Abandoned]);
}

fn password(p: &str) -> Option<mfa_wire::Password> {
    Some(mfa_wire::Password(p.into()))
}

#[test]
fn password_and_totp_are_asked_in_turn_and_sent_together() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre_all(&["totp", "password"]));
    mfad.auth.borrow_mut().push_back(answer(AuthResult::Allow));
    let mut conv = Script {
        answers: [Ok("correct horse".into()), Ok("123456".into())].into(),
        ..Default::default()
    };
    assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, false)));
    assert_eq!(
        conv.prompts,
        vec![
            ("Password: ".to_owned(), false),
            ("Verification code: ".to_owned(), false)
        ]
    );
    let sent = mfad.auth_requests.borrow();
    assert_eq!(sent.len(), 1, "one request carries both");
    assert_eq!(sent[0].method, AuthMethod::Totp);
    assert_eq!(sent[0].passcode.as_deref(), Some("123456"));
    assert_eq!(sent[0].password, password("correct horse"));
}

#[test]
fn password_then_push_sends_the_password_with_the_push() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre_all(&["push", "password"]));
    mfad.auth.borrow_mut().push_back(pending(Some(42)));
    mfad.status
        .borrow_mut()
        .push_back(status(AuthResult::Allow, "approved"));
    let mut conv = Script {
        answers: [Ok("correct horse".into()), Ok(String::new())].into(),
        ..Default::default()
    };
    assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, false)));
    assert_eq!(conv.prompts[0].0, "Password: ");
    assert!(conv.prompts[1].0.contains("(number 42)"));
    let sent = mfad.auth_requests.borrow();
    assert_eq!(sent[0].method, AuthMethod::Push);
    assert_eq!(sent[0].password, password("correct horse"));
}

#[test]
fn a_password_alone_and_a_password_only_app() {
    for pre_answer in [
        pre_all(&["password"]),
        pre(PreauthResult::Auth, &["password"]),
    ] {
        let mfad = FakeMfad::default();
        mfad.preauth.borrow_mut().push_back(pre_answer);
        mfad.auth.borrow_mut().push_back(answer(AuthResult::Allow));
        let mut conv = Script {
            answers: [Ok("correct horse".into())].into(),
            ..Default::default()
        };
        assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, false)));
        assert_eq!(conv.prompts, vec![("Password: ".to_owned(), false)]);
        let sent = mfad.auth_requests.borrow();
        assert_eq!(sent[0].method, AuthMethod::Password);
        assert_eq!(sent[0].passcode, None);
    }
}

#[test]
fn an_expired_password_is_changed_then_the_login_goes_on() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre_all(&["totp", "password"]));
    let mut expired = answer(AuthResult::Deny).unwrap();
    expired.change_password = Some(true);
    let mut warned = answer(AuthResult::Allow).unwrap();
    warned.warning = Some("2 recovery codes left".into());
    mfad.auth.borrow_mut().extend([Ok(expired), Ok(warned)]);
    let mut conv = Script {
        answers: [
            Ok("old password".into()),
            Ok("654321".into()),
            Ok("new password".into()),
            Ok("new password".into()),
        ]
        .into(),
        ..Default::default()
    };
    assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, false)));
    assert!(conv.prompts[2].0.contains("expired"), "{:?}", conv.prompts);
    let sent = mfad.auth_requests.borrow();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].password, password("old password"));
    assert_eq!(sent[1].new_password, password("new password"));
    assert_eq!(
        sent[1].passcode.as_deref(),
        Some("654321"),
        "the same code again"
    );
    assert_eq!(conv.infos, ["2 recovery codes left", "Approved."]);
}

#[test]
fn mismatched_new_passwords_deny_without_a_second_request() {
    let mfad = FakeMfad::default();
    mfad.preauth.borrow_mut().push_back(pre_all(&["password"]));
    let mut expired = answer(AuthResult::Deny).unwrap();
    expired.change_password = Some(true);
    mfad.auth.borrow_mut().push_back(Ok(expired));
    let mut conv = Script {
        answers: [Ok("old".into()), Ok("new one".into()), Ok("new two".into())].into(),
        ..Default::default()
    };
    assert_eq!(
        run(&mfad, &mut conv, FailMode::Secure, false),
        Outcome::Deny {
            why: "the new passwords do not match".into(),
            tell: Refusal::PasswordsDiffer
        }
    );
    assert_eq!(mfad.auth_requests.borrow().len(), 1);
}

#[test]
fn enroll_shows_its_reason_and_denies() {
    let mfad = FakeMfad::default();
    mfad.preauth.borrow_mut().push_back(Ok(PreauthResponse {
        result: PreauthResult::Enroll,
        reason: Some("ask an admin: mfac client add tux".into()),
        methods: vec![],
        required: vec![],
    }));
    let mut conv = Script::default();
    assert!(!allowed(&run(&mfad, &mut conv, FailMode::Safe, false)));
    assert_eq!(
        conv.errors,
        ["Access denied. Ask an admin: mfac client add tux"]
    );
    assert!(conv.prompts.is_empty());
}

#[test]
fn push_only_cannot_give_a_password() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre_all(&["push", "password"]));
    let mut conv = Script::default();
    match run(&mfad, &mut conv, FailMode::Secure, true) {
        Outcome::Deny { why, .. } => assert!(why.contains("push_only"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(mfad.auth_requests.borrow().is_empty());
    // Push alone is fine.
    let mfad = FakeMfad::default();
    mfad.preauth.borrow_mut().push_back(pre_all(&["push"]));
    mfad.auth.borrow_mut().push_back(pending(None));
    mfad.status
        .borrow_mut()
        .push_back(status(AuthResult::Allow, "approved"));
    assert!(allowed(&run(
        &mfad,
        &mut Script::default(),
        FailMode::Secure,
        true
    )));
}

#[test]
fn remember_asks_mfad_for_an_elevated_session() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["totp"]));
    mfad.auth.borrow_mut().push_back(answer(AuthResult::Allow));
    let login = Login {
        user: "tux".into(),
        host: "h".into(),
        service: "sudo".into(),
        client_ip: None,
    };
    let prompts = Prompts::default();
    let mut conv = Script {
        answers: [Ok("123456".into())].into(),
        ..Default::default()
    };
    let mut flow = Flow {
        login: &login,
        settings: Settings {
            failmode: FailMode::Secure,
            push_only: false,
            deadline: Instant::now() + Duration::from_secs(30),
            prompts: &prompts,
            remember: 900,
        },
        conv: &mut conv,
        api: &mfad,
        now: &Instant::now,
    };
    assert!(allowed(&flow.run()));
    assert_eq!(
        mfad.auth_requests.borrow()[0].remember,
        Some(mfa_wire::Remember::Seconds(900))
    );
}

#[test]
fn safe_mode_applies_only_while_mfad_has_answered_nothing() {
    fn lost<T>() -> Result<T, ApiError> {
        Err(ApiError::Unreachable("connection reset".into()))
    }
    // Never answered: safe mode allows, and says so (the module logs it as a warning).
    let mfad = FakeMfad::default();
    mfad.preauth.borrow_mut().push_back(lost());
    match run(&mfad, &mut Script::default(), FailMode::Safe, false) {
        Outcome::AllowFailSafe(why) => assert!(why.contains("connection reset"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Answered the preauth, then lost while sending the push.
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push", "totp"]));
    mfad.auth.borrow_mut().push_back(lost());
    assert!(!allowed(&run(
        &mfad,
        &mut Script::default(),
        FailMode::Safe,
        false
    )));
    // Answered with a pending push, then lost during the long poll.
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push", "totp"]));
    mfad.auth.borrow_mut().push_back(pending(Some(42)));
    mfad.status.borrow_mut().push_back(lost());
    let mut conv = Script {
        answers: [Ok(String::new())].into(),
        ..Default::default()
    };
    match run(&mfad, &mut conv, FailMode::Safe, false) {
        Outcome::Deny { why, .. } => assert!(why.contains("failmode safe does not apply"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Lost (a 5xx) while checking a typed code.
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["totp"]));
    mfad.auth
        .borrow_mut()
        .push_back(Err(ApiError::Unreachable("mfad answered HTTP 503".into())));
    let mut conv = Script {
        answers: [Ok("123456".into())].into(),
        ..Default::default()
    };
    assert!(!allowed(&run(&mfad, &mut conv, FailMode::Safe, false)));
}

/// An mfad (or something in front of it) that answers every poll at once still gets only
/// MAX_POLLS of them, each with a wait of at least a second.
#[test]
fn polls_are_bounded_and_never_without_a_wait() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push"]));
    mfad.auth.borrow_mut().push_back(pending(None));
    mfad.status
        .borrow_mut()
        .extend((0..1000).map(|_| status(AuthResult::Pending, "pending")));
    match run(&mfad, &mut Script::default(), FailMode::Secure, true) {
        Outcome::Deny { why, .. } => assert!(why.contains("gave up"), "{why}"),
        other => panic!("{other:?}"),
    }
    let waits = mfad.waits.borrow();
    assert_eq!(waits.len(), MAX_POLLS as usize);
    assert!(
        waits.iter().all(|w| *w >= Duration::from_secs(1)),
        "{waits:?}"
    );
    assert_eq!(*mfad.cancelled.borrow(), ["tx"], "the push is withdrawn");
}

/// In the last second before the deadline the module stops instead of polling with wait=0.
#[test]
fn less_than_two_seconds_left_is_a_timeout_not_a_zero_wait() {
    let mfad = FakeMfad::default();
    mfad.preauth
        .borrow_mut()
        .push_back(pre(PreauthResult::Auth, &["push"]));
    mfad.auth.borrow_mut().push_back(pending(None));
    let login = Login {
        user: "tux".into(),
        host: "h".into(),
        service: "imap".into(),
        client_ip: None,
    };
    let prompts = Prompts::default();
    let mut conv = Script::default();
    let mut flow = Flow {
        login: &login,
        settings: Settings {
            failmode: FailMode::Secure,
            push_only: true,
            deadline: Instant::now() + Duration::from_millis(1900),
            prompts: &prompts,
            remember: 0,
        },
        conv: &mut conv,
        api: &mfad,
        now: &Instant::now,
    };
    match flow.run() {
        Outcome::Deny { why, .. } => assert!(why.contains("timed out"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(mfad.waits.borrow().is_empty(), "{:?}", mfad.waits.borrow());
}

/// Every call gets at most the time left before the deadline, counted from the module's
/// start; a prompt answered after the deadline asks mfad nothing more.
#[test]
fn every_call_is_bounded_by_the_time_left() {
    for (typing, want_calls) in [(25, 2), (31, 1)] {
        let mfad = FakeMfad::default();
        mfad.preauth
            .borrow_mut()
            .push_back(pre(PreauthResult::Auth, &["totp"]));
        mfad.auth.borrow_mut().push_back(answer(AuthResult::Allow));
        let start = Instant::now();
        let clock = Rc::new(Cell::new(start));
        let mut conv = Script {
            answers: [Ok("123456".into())].into(),
            typing: Some((clock.clone(), Duration::from_secs(typing))),
            ..Default::default()
        };
        let login = Login {
            user: "tux".into(),
            host: "h".into(),
            service: "sshd".into(),
            client_ip: None,
        };
        let prompts = Prompts::default();
        let now = move || clock.get();
        let outcome = Flow {
            login: &login,
            settings: Settings {
                failmode: FailMode::Safe,
                push_only: false,
                deadline: start + Duration::from_secs(30),
                prompts: &prompts,
                remember: 0,
            },
            conv: &mut conv,
            api: &mfad,
            now: &now,
        }
        .run();
        let limits = mfad.limits.borrow();
        assert_eq!(limits.len(), want_calls, "{limits:?}");
        assert_eq!(limits[0], CALL_TIMEOUT, "the preauth, at the start");
        if typing < 30 {
            assert!(allowed(&outcome), "{outcome:?}");
            assert_eq!(
                limits[1],
                Duration::from_secs(30 - typing),
                "the code check"
            );
        } else {
            match outcome {
                Outcome::Deny { why, .. } => assert!(why.contains("timeout passed"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
    }
}

/// Every refusal ends with one error line: the `denied` prompt and the cause, in words the
/// person can act on. A factor that was accepted gets the `approved` text.
#[test]
fn each_refusal_tells_the_person_why_in_one_line() {
    let push_then = |s: Result<AuthStatus, ApiError>| {
        let mfad = FakeMfad::default();
        mfad.preauth
            .borrow_mut()
            .push_back(pre(PreauthResult::Auth, &["push"]));
        mfad.auth.borrow_mut().push_back(pending(None));
        mfad.status.borrow_mut().push_back(s);
        mfad
    };
    let denied_status = |state: &str, reason: &str| {
        let mut s = status(AuthResult::Deny, state).unwrap();
        s.reason = Some(reason.into());
        Ok(s)
    };
    let totp_then = |reason: &str| {
        let mfad = FakeMfad::default();
        mfad.preauth
            .borrow_mut()
            .push_back(pre(PreauthResult::Auth, &["totp"]));
        let mut a = answer(AuthResult::Deny).unwrap();
        a.reason = Some(reason.into());
        mfad.auth.borrow_mut().push_back(Ok(a));
        mfad
    };
    let preauth_then = |p: Result<PreauthResponse, ApiError>| {
        let mfad = FakeMfad::default();
        mfad.preauth.borrow_mut().push_back(p);
        mfad
    };
    let mut locked = pre(PreauthResult::Deny, &[]).unwrap();
    locked.reason =
        Some("user tux is locked out until 2026-12-01T22:51:00Z (5 failed attempts)".into());
    let cases = [
        (
            totp_then("invalid or already used code"),
            "wrong or was already used",
        ),
        (
            totp_then("invalid or already used recovery code"),
            "recovery code is wrong",
        ),
        (
            push_then(denied_status("denied", "denied by tux")),
            "The push was denied on your device.",
        ),
        (
            push_then(denied_status("denied", "wrong number")),
            "wrong number",
        ),
        (
            push_then(denied_status("expired", "timeout")),
            "The push timed out",
        ),
        (
            preauth_then(Ok(locked)),
            "Locked out after too many failed attempts until 2026-12-01T22:51:00Z",
        ),
        (
            preauth_then(Err(ApiError::Unreachable("connection refused".into()))),
            "The MFA server cannot be reached",
        ),
        (
            preauth_then(Err(ApiError::Refused("HTTP 401: invalid API token".into()))),
            "refused this host's request",
        ),
        (
            preauth_then(pre(PreauthResult::Deny, &[])),
            "does not allow this login",
        ),
    ];
    for (mfad, want) in cases {
        let mut conv = Script {
            answers: [Ok("123456".into())].into(),
            ..Default::default()
        };
        // No prompt for a push: push_only (a login that allows only TOTP is then refused).
        let push_only = mfad
            .preauth
            .borrow()
            .front()
            .is_some_and(|p| p.as_ref().is_ok_and(|p| p.methods == ["push"]));
        let outcome = run(&mfad, &mut conv, FailMode::Secure, push_only);
        assert!(!allowed(&outcome), "{outcome:?}");
        assert_eq!(conv.errors.len(), 1, "{:?}", conv.errors);
        let line = &conv.errors[0];
        assert!(line.starts_with("Access denied. "), "{line}");
        assert!(line.contains(want), "{want}: {line}");
        assert!(!line.contains('\n'), "{line}");
    }
    // The module's own deadline, during the push.
    let mfad = push_then(status(AuthResult::Pending, "pending"));
    let login = Login {
        user: "tux".into(),
        host: "h".into(),
        service: "imap".into(),
        client_ip: None,
    };
    let prompts = Prompts::default();
    let mut conv = Script::default();
    Flow {
        login: &login,
        settings: Settings {
            failmode: FailMode::Secure,
            push_only: true,
            deadline: Instant::now() + Duration::from_millis(1500),
            prompts: &prompts,
            remember: 0,
        },
        conv: &mut conv,
        api: &mfad,
        now: &Instant::now,
    }
    .run();
    assert!(
        conv.errors[0].contains("The push timed out"),
        "{:?}",
        conv.errors
    );
    // Accepted: the `approved` text, no error.
    let mfad = push_then(status(AuthResult::Allow, "approved"));
    let mut conv = Script::default();
    assert!(allowed(&run(&mfad, &mut conv, FailMode::Secure, true)));
    assert_eq!(conv.infos, ["Approved."]);
    assert!(conv.errors.is_empty());
}
