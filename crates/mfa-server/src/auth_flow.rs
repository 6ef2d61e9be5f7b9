//! `POST /v1/auth` once the gate asked for factors and the offer fits: count the attempt,
//! check the password, then the code, then send the push or allow. Each ending is written with
//! its audit entry and lockout change in one transaction.

use mfa_core::{Alias, Method, Methods};
use mfa_store::{App, Attempt, LockSubject, LockoutChange, NewSession, Remember, Verdict};
use mfa_wire::{AuthResult, ServerAuthRequest, ServerAuthResponse};

use crate::factors::{self, Refusal};
use crate::login::Login;
use crate::offer::{Code, Offer};
use crate::push::{self, Completes};
use crate::{ApiError, AppState, guard};

/// Recovery codes left at or below which an answer warns.
const FEW_RECOVERY_CODES: i64 = 3;

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
    }
}

/// What the request proved so far.
#[derive(Default)]
struct Verified {
    factors: Vec<Method>,
    warnings: Vec<String>,
    client: Option<Alias>,
}

/// Checks what `offer` carries for `login` routed to `route` and answers.
pub async fn run(
    state: &AppState,
    login: &Login,
    route: &App,
    offer: &Offer<'_>,
    body: &ServerAuthRequest,
    required: &[Method],
) -> Result<ServerAuthResponse, ApiError> {
    let subjects = login.subjects();
    let label = offer.label();
    // Count before compare: however many guesses race, at most max_failed_attempts of them
    // are compared per window.
    if offer.compares_secret()
        && let Attempt::Refused(lock) = state
            .store
            .begin_attempt(&subjects, guard::rule(state), state.clock.now())
            .await?
    {
        let reason = lock.message();
        let audit = login.audit(&label, "deny", Some(reason.clone()));
        guard::record(state, &Verdict::audit_only(audit)).await?;
        return Ok(answer(AuthResult::Deny, reason));
    }
    let verified = match verify(state, route, offer, required).await? {
        Ok(v) => v,
        Err(refusal) => return refuse(state, login, subjects, refusal).await,
    };
    let remember = remember_secs(state, body.remember).map(|seconds| Remember {
        scope: login.policy_request().scope(),
        seconds,
    });
    if offer.push {
        if offer.compares_secret() {
            // What came with the push was right: that attempt did not fail.
            state
                .store
                .change_lockouts(
                    &LockoutChange::Refund(subjects),
                    guard::rule(state),
                    state.clock.now(),
                )
                .await?;
        }
        let number_matching = state.config.number_matching && body.number_matching != Some(false);
        return send_push(state, login, route, verified, remember, number_matching).await;
    }
    allow(state, login, &label, verified, remember, subjects).await
}

/// The password first (a wrong or expired one ends here, before a code is burned or a push
/// is sent), then the code.
async fn verify(
    state: &AppState,
    route: &App,
    offer: &Offer<'_>,
    required: &[Method],
) -> Result<Result<Verified, Refusal>, ApiError> {
    let mut v = Verified::default();
    if let Some(password) = offer.password {
        match factors::check_password(state, route, password, offer.new_password).await? {
            Ok(ok) => {
                v.factors.push(Method::Password);
                v.warnings.extend(ok.warning);
                v.client = Some(ok.client);
            }
            Err(refusal) => return Ok(Err(refusal)),
        }
    }
    match &offer.code {
        Some(Code::Totp(code)) => match factors::check_totp(state, route, code).await? {
            Some(c) => {
                v.factors.push(Method::Totp);
                v.client = Some(c);
            }
            None => return Ok(Err(Refusal::wrong("totp", "invalid or already used code"))),
        },
        Some(Code::Recovery(hash)) => match factors::check_recovery(state, route, hash).await? {
            Some((c, left)) => {
                tracing::info!(client = %c, left, "recovery code used");
                if left <= FEW_RECOVERY_CODES {
                    v.warnings.push(format!(
                        "{left} recovery code{} left: ask an admin for new ones (mfac client recovery-codes {c})",
                        if left == 1 { "" } else { "s" }
                    ));
                }
                v.factors.push(offer.recovery_stands_for(required));
                v.client = Some(c);
            }
            None => {
                return Ok(Err(Refusal::wrong(
                    "recovery",
                    "invalid or already used recovery code",
                )));
            }
        },
        None => {}
    }
    Ok(Ok(v))
}

/// A refused factor: a wrong secret is the failure counted in advance (it may lock now); a
/// policy refusal (an expired password, say) is not a failure, so its count is given back.
async fn refuse(
    state: &AppState,
    login: &Login,
    subjects: Vec<LockSubject>,
    refusal: Refusal,
) -> Result<ServerAuthResponse, ApiError> {
    let lockouts = if refusal.failure {
        LockoutChange::AttemptFailed(subjects)
    } else {
        LockoutChange::Refund(subjects)
    };
    let audit = login.audit(refusal.method, "deny", Some(refusal.reason.clone()));
    guard::record(
        state,
        &Verdict {
            audit,
            lockouts,
            session: None,
        },
    )
    .await?;
    Ok(ServerAuthResponse {
        change_password: refusal.change_password.then_some(true),
        ..answer(AuthResult::Deny, refusal.reason)
    })
}

/// The push, last: its approval completes the login.
async fn send_push(
    state: &AppState,
    login: &Login,
    route: &App,
    verified: Verified,
    remember: Option<Remember>,
    number_matching: bool,
) -> Result<ServerAuthResponse, ApiError> {
    let factors = if verified.factors.is_empty() {
        None
    } else {
        let all = verified.factors.iter().copied().chain([Method::Push]);
        Some(Methods::new(all).map_err(|e| ApiError::Internal(e.to_string()))?)
    };
    let request = push::create(
        state,
        login,
        route.id,
        &route.clients,
        number_matching,
        Completes { factors, remember },
    )
    .await?;
    Ok(ServerAuthResponse {
        result: AuthResult::Pending,
        reason: None,
        txid: Some(request.txid),
        number: request.number,
        expires_at: Some(request.expires_at.to_string()),
        warning: join_warnings(&verified.warnings),
        change_password: None,
        elevated_until: None,
    })
}

/// Everything asked for is verified: forget the failures, audit, make the elevated session,
/// in one transaction.
async fn allow(
    state: &AppState,
    login: &Login,
    label: &str,
    verified: Verified,
    remember: Option<Remember>,
    subjects: Vec<LockSubject>,
) -> Result<ServerAuthResponse, ApiError> {
    let mut audit = login.audit(label, "allow", None);
    audit.client = verified.client.map(|c| c.to_string());
    let factors = Methods::new(verified.factors.iter().copied())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let session = remember.as_ref().map(|m| NewSession {
        user: &login.user,
        client_ip: login.client_ip.as_deref(),
        scope: &m.scope,
        factors: &factors,
        server: Some(&login.server),
        txid: None,
        now: state.clock.now(),
        seconds: m.seconds,
    });
    let recorded = guard::record(
        state,
        &Verdict {
            audit,
            lockouts: LockoutChange::Success(subjects),
            session,
        },
    )
    .await?;
    Ok(ServerAuthResponse {
        result: AuthResult::Allow,
        reason: None,
        txid: None,
        number: None,
        expires_at: None,
        warning: join_warnings(&verified.warnings),
        change_password: None,
        elevated_until: recorded.session.map(|s| s.expires_at.to_string()),
    })
}

/// How long the elevated session a caller asked for lasts (cut to `max_elevated_session`).
fn remember_secs(state: &AppState, asked: Option<mfa_wire::Remember>) -> Option<u32> {
    let want = match asked {
        None | Some(mfa_wire::Remember::Default(false)) => return None,
        Some(mfa_wire::Remember::Default(true)) => state.config.elevated_session,
        Some(mfa_wire::Remember::Seconds(n)) => n,
    };
    let secs = want.min(state.config.max_elevated_session);
    (secs > 0).then_some(secs)
}

fn join_warnings(w: &[String]) -> Option<String> {
    (!w.is_empty()).then(|| w.join("; "))
}
