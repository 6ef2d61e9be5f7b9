//! `POST /v1/auth` once the gate asked for factors: the login's rules (`mfa_core::login`) say
//! what to do next; this module does the I/O each step asks for, then writes the ending (its
//! audit entry, lockout change and elevated session in one transaction) or sends the push.

use mfa_core::Method;
use mfa_core::login::{CodeChecked, Counting, Ending, Flow, PasswordFound, Step};
use mfa_secrets::PasswordHash;
use mfa_store::{App, Attempt, LockSubject, LockoutChange, NewSession, Remember, Verdict};
use mfa_wire::{AuthResult, ServerAuthRequest, ServerAuthResponse};

use crate::factors;
use crate::login::Login;
use crate::metrics::Query;
use crate::offer::{Code, Offer};
use crate::push::{self, Completes, Shows};
use crate::{ApiError, AppState, guard};

pub fn answer(result: AuthResult, reason: impl Into<String>) -> ServerAuthResponse {
    ServerAuthResponse {
        result,
        reason: Some(reason.into()),
        txid: None,
        number: None,
        expires_at: None,
        warning: None,
        change_password: None,
        elevated_until: None,
        device_url: None,
    }
}

/// What the gate asked for: the methods (any one), those all required, the app it routes to.
pub struct Asked<'a> {
    pub methods: &'a [Method],
    pub required: &'a [Method],
    pub route: &'a App,
}

/// Runs the login's steps for what `offer` carries and answers; a push it sends shows `shows`.
pub async fn run(
    state: &AppState,
    login: &Login,
    asked: &Asked<'_>,
    offer: &Offer<'_>,
    body: &ServerAuthRequest,
    shows: Shows,
) -> Result<ServerAuthResponse, ApiError> {
    let Asked {
        methods,
        required,
        route,
    } = *asked;
    let subjects = login.subjects();
    let policy = state.config.password.policy();
    let mut flow = Flow::new(offer.shape(), methods, required, policy, state.clock.now());
    // The hash of the password found, for a change (one conditional update on it).
    let mut stored: Option<PasswordHash> = None;
    loop {
        match flow.next() {
            Step::CountAttempt => flow.counted(count_attempt(state, &subjects).await?),
            Step::CheckPassword => {
                let password = offer.password.unwrap_or_default();
                let found = match factors::find_password(state, route, password).await? {
                    Some((client, pw)) => {
                        let changed_at = pw.changed_at;
                        stored = Some(pw.hash);
                        PasswordFound::Match {
                            client: client.to_string(),
                            changed_at,
                        }
                    }
                    None => PasswordFound::None,
                };
                flow.password_found(found, password, offer.new_password);
            }
            Step::ChangePassword { client } => {
                let changed = match (&stored, offer.new_password) {
                    (Some(old), Some(new)) => {
                        let client = mfa_core::Alias::new(&client)
                            .map_err(|e| ApiError::Internal(e.to_string()))?;
                        factors::change_password(state, &client, old, new).await?
                    }
                    _ => false,
                };
                flow.password_changed(changed);
            }
            Step::CheckCode(_) => flow.code_checked(check_code(state, route, offer).await?),
            Step::SendPush {
                factors,
                counting,
                warnings,
            } => {
                change(state, &subjects, counting).await?;
                let remember = remember(state, login, body);
                // A passkey push needs no number: the passkey, bound to mfa's origin and
                // verified on the person's device, stands in for it (the prompt shows a
                // device link instead).
                let passkey = factors
                    .as_ref()
                    .is_some_and(|f| f.contains(Method::Passkey));
                let number_matching =
                    state.config.number_matching && body.number_matching != Some(false) && !passkey;
                let completes = Completes { factors, remember };
                let push = Push {
                    number_matching,
                    completes,
                    shows,
                };
                return send_push(state, login, route, push, warnings).await;
            }
            Step::Done(ending) => return finish(state, login, body, subjects, ending).await,
        }
    }
}

/// Counts the attempt before anything is compared; `Some(why)` when it is refused.
async fn count_attempt(
    state: &AppState,
    subjects: &[LockSubject],
) -> Result<Option<String>, ApiError> {
    let attempt = state
        .store
        .begin_attempt(subjects, guard::rule(state), state.clock.now());
    let attempt = state.metrics.time(Query::Attempt, attempt).await?;
    Ok(match attempt {
        Attempt::Go => None,
        Attempt::Refused(lock) => Some(lock.message()),
    })
}

async fn check_code(
    state: &AppState,
    route: &App,
    offer: &Offer<'_>,
) -> Result<CodeChecked, ApiError> {
    Ok(match &offer.code {
        Some(Code::Totp(code)) => match factors::check_totp(state, route, code).await? {
            Some((client, left)) => CodeChecked::Right {
                client: client.to_string(),
                left,
            },
            None => CodeChecked::Wrong,
        },
        Some(Code::Recovery(hash)) => match factors::check_recovery(state, route, hash).await? {
            Some((client, left)) => {
                tracing::info!(%client, left, "recovery code used");
                CodeChecked::Right {
                    client: client.to_string(),
                    left: Some(left),
                }
            }
            None => CodeChecked::Wrong,
        },
        None => CodeChecked::Wrong,
    })
}

/// `counting` for the login's subjects, as the store writes it.
fn lockout_change(subjects: &[LockSubject], counting: Counting) -> LockoutChange {
    let subjects = subjects.to_vec();
    match counting {
        Counting::None => LockoutChange::None,
        Counting::Failed => LockoutChange::AttemptFailed(subjects),
        Counting::Refund => LockoutChange::Refund(subjects),
        Counting::Success => LockoutChange::Success(subjects),
    }
}

/// A change of the counts that comes with no audit entry (before a push goes out).
async fn change(
    state: &AppState,
    subjects: &[LockSubject],
    counting: Counting,
) -> Result<(), ApiError> {
    if counting != Counting::None {
        let change = lockout_change(subjects, counting);
        state
            .store
            .change_lockouts(&change, guard::rule(state), state.clock.now())
            .await?;
    }
    Ok(())
}

/// The elevated session the caller asked for, cut to `max_elevated_session`.
fn remember(state: &AppState, login: &Login, body: &ServerAuthRequest) -> Option<Remember> {
    let want = match body.remember {
        None | Some(mfa_wire::Remember::Default(false)) => return None,
        Some(mfa_wire::Remember::Default(true)) => state.config.elevated_session,
        Some(mfa_wire::Remember::Seconds(n)) => n,
    };
    let seconds = want.min(state.config.max_elevated_session);
    (seconds > 0).then(|| Remember {
        scope: login.policy_request().scope(),
        seconds,
    })
}

/// The push a login sends last.
struct Push {
    number_matching: bool,
    completes: Completes,
    shows: Shows,
}

/// The push, last: its approval completes the login.
async fn send_push(
    state: &AppState,
    login: &Login,
    route: &App,
    push: Push,
    warnings: Vec<String>,
) -> Result<ServerAuthResponse, ApiError> {
    let push::Sent {
        request,
        device_url,
    } = push::create(
        state,
        login,
        route.id,
        &route.clients,
        push.number_matching,
        push.completes,
        push.shows,
    )
    .await?;
    Ok(ServerAuthResponse {
        result: AuthResult::Pending,
        reason: None,
        txid: Some(request.txid),
        number: request.number,
        expires_at: Some(request.expires_at.to_string()),
        warning: join_warnings(&warnings),
        change_password: None,
        elevated_until: None,
        device_url,
    })
}

/// Writes the ending — audit entry, lockout change and (for an allow that asked for one) the
/// elevated session, in one transaction — and answers.
async fn finish(
    state: &AppState,
    login: &Login,
    body: &ServerAuthRequest,
    subjects: Vec<LockSubject>,
    ending: Ending,
) -> Result<ServerAuthResponse, ApiError> {
    let (allow, reason, method, counting, client) = match &ending {
        Ending::Allow { method, client, .. } => {
            (true, None, method, Counting::Success, client.clone())
        }
        Ending::Deny {
            reason,
            method,
            counting,
            ..
        } => (false, Some(reason.clone()), method, *counting, None),
    };
    let mut audit = login.audit(method, if allow { "allow" } else { "deny" }, reason);
    audit.client = client;
    let remember = allow.then(|| remember(state, login, body)).flatten();
    let factors = match &ending {
        Ending::Allow { factors, .. } => Some(factors.clone()),
        Ending::Deny { .. } => None,
    };
    let session = match (&remember, &factors) {
        (Some(m), Some(factors)) => Some(NewSession {
            user: login.user.clone(),
            client_ip: login.client_ip.clone(),
            scope: m.scope.clone(),
            factors: factors.clone(),
            server: Some(login.server.clone()),
            txid: None,
            now: state.clock.now(),
            seconds: m.seconds,
        }),
        _ => None,
    };
    let verdict = Verdict {
        audit,
        lockouts: lockout_change(&subjects, counting),
        session,
    };
    let recorded = guard::record(state, &verdict).await?;
    state.metrics.decision(
        verdict.audit.method.as_deref().unwrap_or(""),
        &verdict.audit.result,
    );
    Ok(match ending {
        Ending::Allow { warnings, .. } => ServerAuthResponse {
            result: AuthResult::Allow,
            reason: None,
            txid: None,
            number: None,
            expires_at: None,
            warning: join_warnings(&warnings),
            change_password: None,
            elevated_until: recorded.session.map(|s| s.expires_at.to_string()),
            device_url: None,
        },
        Ending::Deny {
            reason,
            change_password,
            ..
        } => ServerAuthResponse {
            change_password: change_password.then_some(true),
            ..answer(AuthResult::Deny, reason)
        },
    })
}

fn join_warnings(w: &[String]) -> Option<String> {
    (!w.is_empty()).then(|| w.join("; "))
}
