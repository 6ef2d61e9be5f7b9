//! The life of a push: created for a login, then moved once — decided by a client, a link or
//! an ntfy action, expired, or withdrawn by its server. The rules of each move are
//! `mfa_core::push`'s; here they meet the I/O: every move is persisted by `settle`, which writes
//! it with its audit entry and lockout change in one transaction and wakes whoever waits.

use mfa_core::push::{ANSWER_NUMBERS, Answer, LockoutEffect, Move, Refusal, WithdrawReason};
use mfa_core::{Alias, Method, Methods};
use mfa_secrets::{Token, TokenHash, random_below, random_id};
use mfa_store::{
    ApproveLink, AuditEntry, AuthRequest, LockKind, LockSubject, LockoutChange, PushState, Remember,
};
use mfa_wire::{ClientDecision, Decision, DecisionResult, PendingRequest};

use crate::hub::Event;
use crate::login::Login;
use crate::metrics::Query;
use crate::{ApiError, AppState, guard};

/// Approve tokens (links, ntfy actions) look like `mfaa_...`.
pub const APPROVE_TOKEN_PREFIX: &str = "mfaa";

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// What else a push carries: the factors verified before it (`password,push`) and the
/// elevated session its approval makes.
#[derive(Debug, Clone, Default)]
pub struct Completes {
    pub factors: Option<Methods>,
    pub remember: Option<Remember>,
}

/// What a push shows beyond user, host and service, when its caller knows more.
#[derive(Debug, Clone, Default)]
pub struct Shows {
    /// The number the login prompt already showed (a Duo preauth reserved it); `None`: a new
    /// one, if number matching is on.
    pub number: Option<u8>,
    /// What else the approver is told (a Duo client's command and server address).
    pub details: Option<String>,
}

/// A number to match, 10..=99.
pub fn new_number() -> Result<u8, ApiError> {
    Ok(10 + u8::try_from(random_below(90).map_err(internal)?).map_err(internal)?)
}

/// A push as [`create`] sent it.
pub struct Sent {
    pub request: AuthRequest,
    /// For a push only a passkey approves: the device link the login prompt shows.
    pub device_url: Option<String>,
}

/// Sends a push to the app's clients: stores the request with one approve token per client
/// (and, for a push that needs a passkey, a device code), wakes their WebSockets and hands
/// each client's notification to its provider.
pub async fn create(
    state: &AppState,
    login: &Login,
    app_id: i64,
    clients: &[Alias],
    number_matching: bool,
    completes: Completes,
    shows: Shows,
) -> Result<Sent, ApiError> {
    let now = state.clock.now();
    let number = match (number_matching, shows.number) {
        (false, _) => None,
        (true, Some(reserved)) => Some(reserved),
        (true, None) => Some(new_number()?),
    };
    let request = AuthRequest {
        txid: random_id(16).map_err(internal)?,
        user: login.user.clone(),
        host: login.host.clone(),
        service: login.service_label(),
        client_ip: login.client_ip.clone(),
        server: login.server.clone(),
        app_id,
        clients: clients.to_vec(),
        number,
        state: PushState::Pending,
        reason: None,
        decided_by: None,
        created_at: now,
        expires_at: now.plus_secs(i64::from(state.config.auth_timeout)),
        decided_at: None,
        factors: completes.factors,
        remember: completes.remember,
        details: shows.details,
    };
    let tokens = clients
        .iter()
        .map(|c| Ok((c.clone(), Token::generate(APPROVE_TOKEN_PREFIX)?)))
        .collect::<Result<Vec<_>, mfa_secrets::SecretsError>>()
        .map_err(internal)?;
    let mut links: Vec<ApproveLink> = tokens
        .iter()
        .map(|(client, token)| ApproveLink {
            token_hash: token.hash(),
            client: client.clone(),
        })
        .collect();
    let device = device_code(state, &request).await?;
    if let Some((client, code)) = &device {
        links.push(ApproveLink {
            token_hash: TokenHash::of(code),
            client: client.clone(),
        });
    }
    state.store.create_request(&request, &links).await?;
    state
        .hub
        .publish(Event::Created {
            txid: request.txid.clone(),
            clients: clients.iter().map(ToString::to_string).collect(),
        })
        .await;
    for (client, token) in tokens {
        state.notifier.push(state, &request, &client, token).await;
    }
    tracing::info!(txid = %request.txid, user = %request.user, host = %request.host,
        service = %request.service, clients = clients.len(), "push sent");
    let device_url = device.map(|(_, code)| crate::web::device::url(state, &code));
    Ok(Sent {
        request,
        device_url,
    })
}

/// For a push only a passkey approves: the first of its clients with a passkey, and a fresh
/// device code for it.
async fn device_code(
    state: &AppState,
    request: &AuthRequest,
) -> Result<Option<(Alias, String)>, ApiError> {
    if !needs_passkey(request) {
        return Ok(None);
    }
    for client in &request.clients {
        if state
            .store
            .any_has_passkey(std::slice::from_ref(client))
            .await?
        {
            return Ok(Some((client.clone(), crate::web::device::new_code()?)));
        }
    }
    Ok(None)
}

/// Whether only a passkey approves this push (the policy required one).
pub fn needs_passkey(request: &AuthRequest) -> bool {
    request.completes().contains(Method::Passkey)
}

/// How an answer reached mfad (recorded in `decided_by` and the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The client API or WebSocket, with the client key.
    Client,
    /// The web approve page.
    Link,
    /// An ntfy action button.
    Ntfy,
    /// The web approve page, approved with the client's passkey.
    Passkey,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Client => "client",
            Channel::Link => "link",
            Channel::Ntfy => "ntfy",
            Channel::Passkey => "passkey",
        }
    }
}

/// Decides `request` for `client`, at most once: of any number of racing answers (on any
/// number of nodes) exactly one wins; the others learn the state it left.
pub async fn decide(
    state: &AppState,
    request: &AuthRequest,
    client: &Alias,
    channel: Channel,
    answer: &ClientDecision,
) -> Result<DecisionResult, ApiError> {
    if !request.clients.contains(client) {
        return Err(ApiError::NotFound(format!(
            "request {} does not exist",
            request.txid
        )));
    }
    if let Some(n) = answer.number.filter(|n| !ANSWER_NUMBERS.contains(n)) {
        return Err(ApiError::BadRequest(format!(
            "number must be the two digits shown at the login prompt (got {n})"
        )));
    }
    if answer.decision == Decision::Approve && channel != Channel::Passkey && needs_passkey(request)
    {
        return Err(ApiError::Forbidden(
            "this push must be approved with a passkey: open its approve page (or the link the \
             login prompt shows) and confirm with your passkey"
                .into(),
        ));
    }
    let answer = match answer.decision {
        Decision::Approve => Answer::Approve {
            number: answer.number,
        },
        Decision::Deny => Answer::Deny,
        Decision::Fraud => Answer::Fraud,
    };
    let subjects = guard::login_subjects(&request.user, request.client_ip.as_deref());
    let lock = match answer {
        Answer::Approve { .. } => guard::lock_reason(state, &subjects).await?,
        Answer::Deny | Answer::Fraud => None,
    };
    let now = state.clock.now();
    let mv = match request
        .push()
        .answer(client.as_str(), answer, lock.as_deref(), now)
    {
        Ok(mv) => mv,
        Err(Refusal::NumberMissing) => {
            return Err(ApiError::BadRequest(
                "this push needs the number shown at the login prompt: send it as \"number\""
                    .into(),
            ));
        }
        Err(Refusal::Overdue) => {
            expire(state, &request.txid).await?;
            return outcome(state, &request.txid, false).await;
        }
        Err(Refusal::Closed) => return outcome(state, &request.txid, false).await,
    };
    let by = format!("{}:{client}", channel.as_str());
    let Some(decided) = settle(state, request, &mv, Some(&by), Some(client)).await? else {
        return outcome(state, &request.txid, false).await;
    };
    if answer == Answer::Fraud {
        tracing::warn!(user = %decided.user, %client, txid = %decided.txid, "fraud reported: user locked out");
    }
    Ok(DecisionResult {
        txid: decided.txid,
        state: decided.state.to_string(),
        decided: true,
        reason: decided.reason,
    })
}

/// Persists `mv` of `request` with its audit entry and lockout change, in one transaction, and
/// wakes whoever waits for it. The request as `mv` left it, or `None` when another move won.
async fn settle(
    state: &AppState,
    request: &AuthRequest,
    mv: &Move,
    by: Option<&str>,
    client: Option<&Alias>,
) -> Result<Option<AuthRequest>, ApiError> {
    let now = state.clock.now();
    let (result, effect, client) = (mv.audit, mv.lockouts.clone(), client.cloned());
    let settle =
        state
            .store
            .settle_request(&request.txid, mv, by, guard::rule(state), now, move |r| {
                (
                    request_audit(r, result, client.as_ref()),
                    lockout_change(r, &effect),
                )
            });
    let settled = state.metrics.time(Query::Settle, settle).await?;
    let Some((moved, recorded)) = settled else {
        return Ok(None);
    };
    let decided_at = moved.decided_at.unwrap_or(now);
    let millis = (decided_at.millis() - moved.created_at.millis()).max(0);
    state
        .metrics
        .push_decided(moved.factors.as_ref(), mv.audit, millis as f64 / 1000.0);
    guard::log_locks(&recorded);
    if let Some(s) = &recorded.session {
        tracing::info!(user = %s.user, scope = %s.scope, until = %s.expires_at, "elevated session");
    }
    state
        .hub
        .publish(Event::Decided {
            txid: moved.txid.clone(),
            clients: moved.clients.iter().map(ToString::to_string).collect(),
        })
        .await;
    Ok(Some(moved))
}

/// A move's effect on the lockouts of the login it was for.
fn lockout_change(r: &AuthRequest, effect: &LockoutEffect) -> LockoutChange {
    let subjects = || guard::login_subjects(&r.user, r.client_ip.as_deref());
    match effect {
        LockoutEffect::None => LockoutChange::None,
        LockoutEffect::Success => LockoutChange::Success(subjects()),
        LockoutEffect::Failure => LockoutChange::Failure(subjects()),
        LockoutEffect::LockUserUntilCleared { reason } => LockoutChange::LockUntilCleared {
            subject: LockSubject::new(LockKind::User, r.user.clone()),
            reason: reason.clone(),
        },
    }
}

/// Expires `txid` if it is pending and past its time (counted as a failure); true when this
/// call did it.
pub async fn expire(state: &AppState, txid: &str) -> Result<bool, ApiError> {
    let request = state.store.request(txid).await?;
    let Some(mv) = request.push().expire(state.clock.now()) else {
        return Ok(false);
    };
    Ok(settle(state, &request, &mv, None, None).await?.is_some())
}

/// Withdraws a pending push its server no longer waits for; true when this call did it.
pub async fn withdraw(
    state: &AppState,
    request: &AuthRequest,
    why: WithdrawReason,
) -> Result<bool, ApiError> {
    let Some(mv) = request.push().withdraw(why, state.clock.now()) else {
        return Ok(false);
    };
    let by = format!("server:{}", request.server);
    Ok(settle(state, request, &mv, Some(&by), None)
        .await?
        .is_some())
}

async fn outcome(state: &AppState, txid: &str, decided: bool) -> Result<DecisionResult, ApiError> {
    let r = state.store.request(txid).await?;
    Ok(DecisionResult {
        txid: r.txid,
        state: r.state.to_string(),
        decided,
        reason: r.reason,
    })
}

/// The audit entry of a push's end, as the request left it.
fn request_audit(r: &AuthRequest, result: &str, client: Option<&Alias>) -> AuditEntry {
    AuditEntry {
        user: r.user.clone(),
        host: (!r.host.is_empty()).then(|| r.host.clone()),
        service: Some(r.service.clone()),
        client_ip: r.client_ip.clone(),
        method: Some(
            r.completes()
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join("+"),
        ),
        result: result.into(),
        reason: r.reason.clone(),
        server: Some(r.server.clone()),
        client: client.map(ToString::to_string),
        txid: Some(r.txid.clone()),
        ..AuditEntry::default()
    }
}

/// What a client is shown of a push (never the number).
pub fn pending_view(r: &AuthRequest) -> PendingRequest {
    PendingRequest {
        txid: r.txid.clone(),
        user: r.user.clone(),
        host: r.host.clone(),
        service: r.service.clone(),
        client_ip: r.client_ip.clone(),
        created_at: r.created_at.to_string(),
        expires_at: r.expires_at.to_string(),
        number_required: r.number.is_some(),
        details: r.details.clone(),
    }
}
