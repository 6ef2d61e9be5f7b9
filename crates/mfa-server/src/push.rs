//! The life of a push: created for a login, decided once (by a client, a link or an ntfy
//! action), or expired. Every path that ends a push goes through `decide` or `expire`, which
//! count failures, write the audit log and wake whoever waits.

use std::time::Duration;

use mfa_core::{Alias, Methods};
use mfa_secrets::{Token, random_below, random_id};
use mfa_store::{
    ApproveLink, AuditEntry, AuthRequest, FRAUD_REASON, LockKind, LockSubject, LockoutChange,
    Remember, RequestState, Retention, Transition, WRONG_NUMBER,
};
use mfa_wire::{ClientDecision, Decision, DecisionResult, PendingRequest};

use crate::hub::Event;
use crate::{ApiError, AppState, guard};

/// Approve tokens (links, ntfy actions) look like `mfaa_...`.
pub const APPROVE_TOKEN_PREFIX: &str = "mfaa";

/// Who is logging in, as the asking server described it (already validated).
pub struct Login {
    pub user: String,
    /// Empty only for a step-up that names no host.
    pub host: String,
    /// The service logged into; for a step-up, the action.
    pub service: String,
    pub client_ip: Option<String>,
    pub server: String,
    /// A step-up (`POST /v1/stepup`, or `/v1/auth` with `action`) rather than a login.
    pub step_up: bool,
}

impl Login {
    /// The request as the policy sees it.
    pub fn policy_request(&self) -> mfa_core::policy::Request {
        if self.step_up {
            let host = (!self.host.is_empty()).then_some(self.host.as_str());
            mfa_core::policy::Request::step_up(&self.user, &self.service, host)
        } else {
            mfa_core::policy::Request::login(&self.user, &self.host, &self.service)
        }
    }

    /// What the audit log and the approving person see as the service: `action:NAME` for a
    /// step-up.
    pub fn service_label(&self) -> String {
        if self.step_up {
            format!("action:{}", self.service)
        } else {
            self.service.clone()
        }
    }

    /// What this login's failures count against: its user and its source address.
    pub fn subjects(&self) -> Vec<LockSubject> {
        guard::login_subjects(&self.user, self.client_ip.as_deref())
    }

    pub fn audit(&self, method: &str, result: &str, reason: Option<String>) -> AuditEntry {
        AuditEntry {
            user: self.user.clone(),
            host: (!self.host.is_empty()).then(|| self.host.clone()),
            service: Some(self.service_label()),
            client_ip: self.client_ip.clone(),
            method: Some(method.to_owned()),
            result: result.to_owned(),
            reason,
            server: Some(self.server.clone()),
            ..AuditEntry::default()
        }
    }
}

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

/// Sends a push to the app's clients: stores the request with one approve token per client,
/// wakes their WebSockets and hands each client's notification to its provider.
pub async fn create(
    state: &AppState,
    login: &Login,
    app_id: i64,
    clients: &[Alias],
    number_matching: bool,
    completes: Completes,
) -> Result<AuthRequest, ApiError> {
    let now = state.clock.now();
    let number = if number_matching {
        Some(10 + u8::try_from(random_below(90).map_err(internal)?).map_err(internal)?)
    } else {
        None
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
        state: RequestState::Pending,
        reason: None,
        decided_by: None,
        created_at: now,
        expires_at: now.plus_secs(i64::from(state.config.auth_timeout)),
        decided_at: None,
        factors: completes.factors,
        remember: completes.remember,
    };
    let tokens = clients
        .iter()
        .map(|c| Ok((c.clone(), Token::generate(APPROVE_TOKEN_PREFIX)?)))
        .collect::<Result<Vec<_>, mfa_secrets::SecretsError>>()
        .map_err(internal)?;
    let links: Vec<ApproveLink> = tokens
        .iter()
        .map(|(client, token)| ApproveLink {
            token_hash: token.hash(),
            client: client.clone(),
        })
        .collect();
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
    Ok(request)
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
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Client => "client",
            Channel::Link => "link",
            Channel::Ntfy => "ntfy",
        }
    }
}

/// Decides `request` for `client`, at most once: of any number of racing answers (on any
/// number of nodes) exactly one wins; the others learn the state it left. The number is
/// compared by the statement that decides, so the first answer is the only one compared; and
/// an approval while the user or the login's address is locked out denies.
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
    let now = state.clock.now();
    if !request.is_open(now) {
        if request.state == RequestState::Pending {
            expire(state, &request.txid).await?;
        }
        return outcome(state, &request.txid, false).await;
    }
    let approve = answer.decision == Decision::Approve;
    if approve && request.number.is_some() && answer.number.is_none() {
        return Err(ApiError::BadRequest(
            "this push needs the number shown at the login prompt: send it as \"number\"".into(),
        ));
    }
    let subjects = guard::login_subjects(&request.user, request.client_ip.as_deref());
    let transition = Transition::Answer {
        approve,
        number: answer.number,
        deny_reason: match answer.decision {
            Decision::Fraud => FRAUD_REASON.to_owned(),
            _ => format!("denied by {client}"),
        },
        by: format!("{}:{client}", channel.as_str()),
        locks: subjects.clone(),
    };
    let settled = state
        .store
        .settle_request(&request.txid, &transition, guard::rule(state), now, |r| {
            let (result, lockouts) = match (r.state, answer.decision) {
                (RequestState::Approved, _) => ("approved", LockoutChange::Success(subjects)),
                (_, Decision::Fraud) => (
                    "fraud",
                    LockoutChange::LockUntilCleared {
                        subject: LockSubject::new(LockKind::User, r.user.clone()),
                        reason: FRAUD_REASON.to_owned(),
                    },
                ),
                // An approval refused because a lock is in force: nobody guessed anything.
                (_, Decision::Approve) if r.reason.as_deref() != Some(WRONG_NUMBER) => {
                    ("denied", LockoutChange::None)
                }
                _ => ("denied", LockoutChange::Failure(subjects)),
            };
            (request_audit(r, result, Some(client)), lockouts)
        })
        .await?;
    let Some((decided, recorded)) = settled else {
        return outcome(state, &request.txid, false).await;
    };
    guard::log_locks(&recorded);
    if answer.decision == Decision::Fraud {
        tracing::warn!(user = %decided.user, %client, txid = %decided.txid, "fraud reported: user locked out");
    }
    if let Some(s) = &recorded.session {
        tracing::info!(user = %s.user, scope = %s.scope, until = %s.expires_at, "elevated session");
    }
    decided_event(state, &decided.txid).await;
    Ok(DecisionResult {
        txid: decided.txid,
        state: decided.state.to_string(),
        decided: true,
        reason: decided.reason,
    })
}

async fn decided_event(state: &AppState, txid: &str) {
    state
        .hub
        .publish(Event::Decided {
            txid: txid.to_owned(),
        })
        .await;
}

/// Expires `txid` if it is pending and past its time (counted as a failure and audited in the
/// same transaction); true when this call did it.
pub async fn expire(state: &AppState, txid: &str) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let settled = state
        .store
        .settle_request(txid, &Transition::Expire, guard::rule(state), now, |r| {
            let subjects = guard::login_subjects(&r.user, r.client_ip.as_deref());
            (
                request_audit(r, "expired", None),
                LockoutChange::Failure(subjects),
            )
        })
        .await?;
    let Some((_, recorded)) = settled else {
        return Ok(false);
    };
    guard::log_locks(&recorded);
    decided_event(state, txid).await;
    Ok(true)
}

/// Why a push is withdrawn; what clients are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawReason {
    /// The person typed a code at the login instead.
    CodeUsed,
    /// The login gave up (timed out, the connection closed).
    Abandoned,
    /// mfad restarted and the login did not come back for it.
    Restarted,
}

impl WithdrawReason {
    pub fn text(self) -> &'static str {
        match self {
            WithdrawReason::CodeUsed => "withdrawn: a code was used at the login",
            WithdrawReason::Abandoned => "withdrawn: the login gave up",
            WithdrawReason::Restarted => "withdrawn: the login is gone (mfad restarted)",
        }
    }
}

/// Withdraws a pending push its server no longer waits for. Unlike a denial or an expiry it
/// is not counted as a failure: nobody refused anything. True when this call did it.
pub async fn withdraw(
    state: &AppState,
    request: &AuthRequest,
    why: WithdrawReason,
) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let transition = Transition::Withdraw {
        reason: why.text().to_owned(),
        by: format!("server:{}", request.server),
    };
    let settled = state
        .store
        .settle_request(&request.txid, &transition, guard::rule(state), now, |r| {
            (request_audit(r, "withdrawn", None), LockoutChange::None)
        })
        .await?;
    if settled.is_none() {
        return Ok(false);
    }
    decided_event(state, &request.txid).await;
    Ok(true)
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
    }
}

/// How often the tables are purged of what no decision needs any more.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Expires overdue pushes every second, so a push nobody answers (and nobody polls) is still
/// denied, counted and audited on time; purges the tables once a minute.
pub async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_purge = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = state.clock.now();
        match state.store.overdue_requests(now).await {
            Ok(txids) => {
                for txid in txids {
                    if let Err(e) = expire(&state, &txid).await {
                        tracing::warn!(%txid, error = %e, "cannot expire push");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for overdue pushes"),
        }
        if tokio::time::Instant::now() >= next_purge {
            next_purge += PURGE_EVERY;
            purge(&state).await;
        }
    }
}

async fn purge(state: &AppState) {
    let keep = Retention {
        failure_window_secs: i64::from(state.config.block_duration),
        audit_days: state.config.audit_retention_days,
    };
    match state.store.purge(keep, state.clock.now()).await {
        Ok(purged) if purged.total() > 0 => tracing::info!(?purged, "purged"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot purge old rows"),
    }
}

/// How long after a start a push made before it waits for its login to poll again.
const RESTART_GRACE: Duration = Duration::from_secs(5);

/// After a start, withdraws the pushes made before it that no server waits for: their logins
/// were answered "denied" when the node serving them went away, and a push nobody waits for
/// must not stay approvable.
pub async fn withdraw_abandoned(state: AppState) {
    let started = state.clock.now();
    tokio::time::sleep(RESTART_GRACE).await;
    let abandoned = match state.store.abandoned_requests(started, started).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for pushes left by an earlier run");
            return;
        }
    };
    for request in abandoned {
        match withdraw(&state, &request, WithdrawReason::Restarted).await {
            Ok(true) => {
                tracing::info!(txid = %request.txid, "push withdrawn: its login did not come back after the restart")
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(txid = %request.txid, error = %e, "cannot withdraw push"),
        }
    }
}
