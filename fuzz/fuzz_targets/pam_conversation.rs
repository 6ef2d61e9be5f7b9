//! The PAM module's handling of what the person types at its prompts (pam_mfa::flow), against
//! an mfad whose answers are fuzzed too: replies with spaces, empty ones, failed ones, late
//! ones, and any answer, outage or refusal from mfad at any point.
//!
//! A login is allowed only right after mfad said allow (or, with failmode safe, when mfad
//! never answered at all); a code is sent trimmed and a password exactly as typed; nothing is
//! asked with echo on; a denial is told in one message and an allow in none; the number of
//! calls to mfad stays bounded.
#![no_main]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mfa_wire::{
    AuthResult, AuthStatus, PreauthRequest, PreauthResponse, PreauthResult, ServerAuthRequest,
    ServerAuthResponse,
};
use pam_mfa::config::{FailMode, Prompts};
use pam_mfa::flow::{
    ApiError, Conversation, Flow, Login, MAX_POLLS, MfaApi, Outcome, Settings, Withdrawal,
};

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

/// The person at the prompt: scripted replies; each prompt takes `typing` on the clock.
struct Person<'a> {
    replies: VecDeque<std::result::Result<String, String>>,
    given: Vec<String>,
    prompts: usize,
    echoed: bool,
    errors: Vec<String>,
    infos: Vec<String>,
    clock: &'a Cell<Instant>,
    typing: Duration,
}

impl Conversation for Person<'_> {
    fn prompt(&mut self, _text: &str, echo: bool) -> std::result::Result<String, String> {
        self.prompts += 1;
        self.echoed |= echo;
        self.clock.set(self.clock.get() + self.typing);
        let reply = self
            .replies
            .pop_front()
            .unwrap_or(Err("no more replies".into()));
        if let Ok(r) = &reply {
            self.given.push(r.clone());
        }
        reply
    }
    fn error(&mut self, text: &str) {
        self.errors.push(text.to_owned());
    }
    fn info(&mut self, text: &str) {
        self.infos.push(text.to_owned());
    }
}

/// An mfad answering from a script, recording what it was sent.
#[derive(Default)]
struct Mfad {
    preauth: RefCell<Option<std::result::Result<PreauthResponse, ApiError>>>,
    auth: RefCell<VecDeque<std::result::Result<ServerAuthResponse, ApiError>>>,
    status: RefCell<VecDeque<std::result::Result<AuthStatus, ApiError>>>,
    sent: RefCell<Vec<ServerAuthRequest>>,
    polls: Cell<u32>,
    /// Whether the last answer mfad gave (preauth, auth or status) said allow.
    last_said_allow: Cell<bool>,
    /// Whether mfad answered anything at all.
    answered: Cell<bool>,
}

impl Mfad {
    fn answer<T: Clone>(
        &self,
        answer: Option<std::result::Result<T, ApiError>>,
        allows: impl Fn(&T) -> bool,
    ) -> std::result::Result<T, ApiError> {
        let answer = answer.unwrap_or(Err(ApiError::Unreachable("no more answers".into())));
        self.last_said_allow.set(answer.as_ref().is_ok_and(&allows));
        self.answered.set(self.answered.get() || answer.is_ok());
        answer
    }
}

impl MfaApi for Mfad {
    fn preauth(
        &self,
        _: &PreauthRequest,
        _: Duration,
    ) -> std::result::Result<PreauthResponse, ApiError> {
        let answer = self.preauth.borrow_mut().take();
        self.answer(answer, |p| p.result == PreauthResult::Allow)
    }
    fn auth(
        &self,
        req: &ServerAuthRequest,
        _: Duration,
    ) -> std::result::Result<ServerAuthResponse, ApiError> {
        self.sent.borrow_mut().push(req.clone());
        let answer = self.auth.borrow_mut().pop_front();
        self.answer(answer, |a| a.result == AuthResult::Allow)
    }
    fn status(
        &self,
        _: &str,
        _: Duration,
        _: Duration,
    ) -> std::result::Result<AuthStatus, ApiError> {
        self.polls.set(self.polls.get() + 1);
        let answer = self.status.borrow_mut().pop_front();
        self.answer(answer, |s| s.result == AuthResult::Allow)
    }
    fn cancel(
        &self,
        txid: &str,
        _: Withdrawal,
        _: Duration,
    ) -> std::result::Result<AuthStatus, ApiError> {
        // A withdrawal's answer decides nothing: it must not count as mfad's last word.
        Ok(AuthStatus {
            txid: txid.to_owned(),
            result: AuthResult::Deny,
            state: "withdrawn".into(),
            reason: None,
            elevated_until: None,
        })
    }
}

fn pick(u: &mut Unstructured<'_>, usual: &[&'static str]) -> Result<String> {
    Ok(if u.arbitrary()? {
        (*u.choose(usual)?).to_owned()
    } else {
        u.arbitrary()?
    })
}

fn api_error(u: &mut Unstructured<'_>) -> Result<ApiError> {
    let why: String = u.arbitrary()?;
    Ok(if u.arbitrary()? {
        ApiError::Unreachable(why)
    } else {
        ApiError::Refused(why)
    })
}

const METHODS: &[&str] = &["push", "totp", "password", "passkey", "webauthn"];
const REASONS: &[&str] = &[
    "invalid or already used code",
    "wrong password",
    "locked out until 2030-01-01T00:00:00Z",
    "fraud reported",
    "denied by tux",
    "wrong number",
];

fn preauth(u: &mut Unstructured<'_>) -> Result<std::result::Result<PreauthResponse, ApiError>> {
    if u.ratio(1, 6)? {
        return Ok(Err(api_error(u)?));
    }
    let result = *u.choose(&[
        PreauthResult::Allow,
        PreauthResult::Deny,
        PreauthResult::Auth,
        PreauthResult::Enroll,
    ])?;
    let mut methods = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        methods.push(pick(u, METHODS)?);
    }
    let mut required = Vec::new();
    if u.ratio(1, 3)? {
        for _ in 0..u.int_in_range(1..=3)? {
            required.push(pick(u, METHODS)?);
        }
    }
    let reason = if u.arbitrary()? {
        Some(pick(u, REASONS)?)
    } else {
        None
    };
    Ok(Ok(PreauthResponse {
        result,
        reason,
        methods,
        required,
    }))
}

fn result(u: &mut Unstructured<'_>) -> Result<AuthResult> {
    Ok(*u.choose(&[AuthResult::Allow, AuthResult::Deny, AuthResult::Pending])?)
}

fn auth_answer(
    u: &mut Unstructured<'_>,
) -> Result<std::result::Result<ServerAuthResponse, ApiError>> {
    if u.ratio(1, 8)? {
        return Ok(Err(api_error(u)?));
    }
    Ok(Ok(ServerAuthResponse {
        result: result(u)?,
        reason: if u.arbitrary()? {
            Some(pick(u, REASONS)?)
        } else {
            None
        },
        txid: if u.ratio(4, 5)? {
            Some(u.arbitrary()?)
        } else {
            None
        },
        number: u.arbitrary()?,
        expires_at: None,
        warning: u.arbitrary()?,
        change_password: u.arbitrary()?,
        elevated_until: None,
        device_url: if u.arbitrary()? {
            Some("https://mfa.example.org/d/7KQP-ZX4M".into())
        } else {
            None
        },
    }))
}

fn status_answer(u: &mut Unstructured<'_>) -> Result<std::result::Result<AuthStatus, ApiError>> {
    if u.ratio(1, 8)? {
        return Ok(Err(api_error(u)?));
    }
    Ok(Ok(AuthStatus {
        txid: "t".into(),
        result: result(u)?,
        state: pick(
            u,
            &["pending", "approved", "denied", "expired", "withdrawn"],
        )?,
        reason: if u.arbitrary()? {
            Some(pick(u, REASONS)?)
        } else {
            None
        },
        elevated_until: None,
    }))
}

fn reply(u: &mut Unstructured<'_>) -> Result<std::result::Result<String, String>> {
    if u.ratio(1, 10)? {
        return Ok(Err("conversation failed".into()));
    }
    Ok(Ok(match u.int_in_range(0..=3)? {
        0 => String::new(),
        1 => format!(" {:06} ", u.int_in_range(0..=999_999u32)?),
        2 => u.int_in_range(0..=99_999_999u32)?.to_string(),
        _ => u.arbitrary()?,
    }))
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let failmode = if u.arbitrary()? {
        FailMode::Safe
    } else {
        FailMode::Secure
    };
    let push_only: bool = u.arbitrary()?;
    let remember = if u.arbitrary()? { 0 } else { u.arbitrary()? };
    let budget = Duration::from_secs(u.int_in_range(0..=600)?);
    let typing = Duration::from_millis(u.int_in_range(0..=120_000)?);
    let mfad = Mfad::default();
    *mfad.preauth.borrow_mut() = Some(preauth(u)?);
    for _ in 0..u.int_in_range(0..=3)? {
        mfad.auth.borrow_mut().push_back(auth_answer(u)?);
    }
    for _ in 0..u.int_in_range(0..=MAX_POLLS + 2)? {
        mfad.status.borrow_mut().push_back(status_answer(u)?);
    }
    let mut replies = VecDeque::new();
    for _ in 0..u.int_in_range(0..=4)? {
        replies.push_back(reply(u)?);
    }

    let start = Instant::now();
    let clock = Cell::new(start);
    let mut person = Person {
        replies,
        given: Vec::new(),
        prompts: 0,
        echoed: false,
        errors: Vec::new(),
        infos: Vec::new(),
        clock: &clock,
        typing,
    };
    let prompts = Prompts::default();
    let login = Login {
        user: "tux".into(),
        host: "linux.example.org".into(),
        service: "sshd".into(),
        client_ip: Some("192.0.2.1".into()),
    };
    let now = || clock.get();
    let outcome = Flow {
        login: &login,
        settings: Settings {
            failmode,
            push_only,
            deadline: start + budget,
            prompts: &prompts,
            remember,
        },
        conv: &mut person,
        api: &mfad,
        now: &now,
    }
    .run();

    let sent = mfad.sent.borrow();
    match &outcome {
        Outcome::Allow(_) => {
            assert!(
                mfad.last_said_allow.get(),
                "allowed, but mfad's last answer was not allow: {outcome:?}"
            );
            assert!(person.errors.is_empty(), "{:?}", person.errors);
        }
        Outcome::AllowFailSafe(_) => {
            assert_eq!(failmode, FailMode::Safe);
            assert!(
                !mfad.answered.get() && sent.is_empty(),
                "fail-safe after mfad answered"
            );
            assert!(person.errors.is_empty());
        }
        Outcome::Deny { .. } => assert_eq!(person.errors.len(), 1, "{:?}", person.errors),
    }
    assert!(!person.echoed, "a prompt echoed what is typed");
    if push_only {
        assert_eq!(person.prompts, 0, "push_only prompted");
    }
    // A push (sent again with a new password) and a code typed instead (the same again).
    assert!(sent.len() <= 4, "{} auth requests", sent.len());
    assert!(mfad.polls.get() <= MAX_POLLS);
    for req in sent.iter() {
        assert_eq!(req.remember.is_some(), remember > 0);
        if let Some(code) = &req.passcode {
            assert_eq!(code.trim(), code, "a code sent untrimmed");
            assert!(
                person.given.iter().any(|g| g.trim() == code),
                "{code:?} was never typed"
            );
        }
        if let Some(password) = &req.password {
            assert!(
                person.given.iter().any(|g| g == password.expose()),
                "a password not as typed"
            );
        }
        if let Some(new) = &req.new_password {
            let times = person.given.iter().filter(|g| *g == new.expose()).count();
            assert!(times >= 2, "a new password sent that was not typed twice");
        }
    }
    Ok(())
}
