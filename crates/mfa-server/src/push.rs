//! The life of a push: created for a login, decided once (by a client, a link or an ntfy
//! action), or expired. Every path that ends a push goes through `decide` or `expire`, which
//! count failures, write the audit log and wake whoever waits.

use std::time::Duration;

use mfa_core::{Alias, Methods, Timestamp};
use mfa_secrets::{Token, ct_eq, random_below, random_id};
use mfa_store::{
    ApproveLink, AuditEntry, AuthRequest, FRAUD_REASON, LockKind, NewSession, Remember,
    RequestState,
};
use mfa_wire::{ClientDecision, Decision, DecisionResult, PendingRequest};

use crate::guard::LoginSubjects;
use crate::hub::Event;
use crate::{ApiError, AppState};

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

    pub fn subjects(&self) -> LoginSubjects<'_> {
        LoginSubjects {
            user: &self.user,
            ip: self.client_ip.as_deref(),
        }
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
    let now = state.clock.now();
    if !request.is_open(now) {
        if request.state == RequestState::Pending {
            expire(state, &request.txid).await?;
        }
        return outcome(state, &request.txid, false).await;
    }
    let (new_state, reason) = match answer.decision {
        Decision::Approve => match (request.number, answer.number) {
            (None, _) => (RequestState::Approved, None),
            (Some(_), None) => {
                return Err(ApiError::BadRequest(
                    "this push needs the number shown at the login prompt: send it as \"number\""
                        .into(),
                ));
            }
            (Some(expected), Some(given)) if ct_eq(&[expected], &[given]) => {
                (RequestState::Approved, None)
            }
            // A wrong number denies: guessing is not a way in.
            (Some(_), Some(_)) => (RequestState::Denied, Some("wrong number".to_owned())),
        },
        Decision::Deny => (RequestState::Denied, Some(format!("denied by {client}"))),
        Decision::Fraud => (RequestState::Denied, Some(FRAUD_REASON.to_owned())),
    };
    let by = format!("{}:{client}", channel.as_str());
    if !state
        .store
        .decide_request(&request.txid, new_state, reason.as_deref(), &by, now)
        .await?
    {
        return outcome(state, &request.txid, false).await;
    }
    let subjects = LoginSubjects {
        user: &request.user,
        ip: request.client_ip.as_deref(),
    };
    let result = match (new_state, answer.decision) {
        (RequestState::Approved, _) => {
            subjects.succeeded(state).await?;
            remember(state, request, now).await?;
            "approved"
        }
        (_, Decision::Fraud) => {
            state
                .store
                .lock_until_cleared(LockKind::User, &request.user, FRAUD_REASON, now)
                .await?;
            tracing::warn!(user = %request.user, %client, txid = %request.txid, "fraud reported: user locked out");
            "fraud"
        }
        _ => {
            subjects.failed(state).await?;
            "denied"
        }
    };
    audit_request(state, request, result, reason.clone(), Some(client), now).await?;
    state
        .hub
        .publish(Event::Decided {
            txid: request.txid.clone(),
        })
        .await;
    Ok(DecisionResult {
        txid: request.txid.clone(),
        state: new_state.to_string(),
        decided: true,
        reason,
    })
}

/// Expires `txid` if it is pending and past its time; true when this call did it.
pub async fn expire(state: &AppState, txid: &str) -> Result<bool, ApiError> {
    let now = state.clock.now();
    if !state.store.expire_request(txid, now).await? {
        return Ok(false);
    }
    let request = state.store.request(txid).await?;
    LoginSubjects {
        user: &request.user,
        ip: request.client_ip.as_deref(),
    }
    .failed(state)
    .await?;
    audit_request(
        state,
        &request,
        "expired",
        Some("timeout".into()),
        None,
        now,
    )
    .await?;
    state
        .hub
        .publish(Event::Decided {
            txid: txid.to_owned(),
        })
        .await;
    Ok(true)
}

/// Withdraws a pending push its server no longer waits for (the person typed a code instead,
/// or the login gave up). It is denied with reason `cancelled` but, unlike a denial or an
/// expiry, not counted as a failure: nobody refused anything. True when this call did it.
pub async fn cancel(state: &AppState, request: &AuthRequest) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let by = format!("server:{}", request.server);
    let cancelled = state
        .store
        .decide_request(
            &request.txid,
            RequestState::Denied,
            Some("cancelled"),
            &by,
            now,
        )
        .await?;
    if cancelled {
        audit_request(
            state,
            request,
            "cancelled",
            Some("cancelled".into()),
            None,
            now,
        )
        .await?;
        state
            .hub
            .publish(Event::Decided {
                txid: request.txid.clone(),
            })
            .await;
    }
    Ok(cancelled)
}

/// The factors an approval completes: the push, and what was verified before it.
fn factors_of(r: &AuthRequest) -> Methods {
    r.factors
        .clone()
        .unwrap_or_else(|| Methods::from_one(mfa_core::Method::Push))
}

/// Makes the elevated session an approved push asked for.
async fn remember(state: &AppState, r: &AuthRequest, now: Timestamp) -> Result<(), ApiError> {
    let Some(m) = &r.remember else {
        return Ok(());
    };
    let session = state
        .store
        .create_session(NewSession {
            user: &r.user,
            client_ip: r.client_ip.as_deref(),
            scope: &m.scope,
            factors: &factors_of(r),
            server: Some(&r.server),
            txid: Some(&r.txid),
            now,
            seconds: m.seconds,
        })
        .await?;
    tracing::info!(user = %r.user, scope = %m.scope, until = %session.expires_at, "elevated session");
    Ok(())
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

async fn audit_request(
    state: &AppState,
    r: &AuthRequest,
    result: &str,
    reason: Option<String>,
    client: Option<&Alias>,
    now: Timestamp,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        user: r.user.clone(),
        host: (!r.host.is_empty()).then(|| r.host.clone()),
        service: Some(r.service.clone()),
        client_ip: r.client_ip.clone(),
        method: Some(
            factors_of(r)
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join("+"),
        ),
        result: result.into(),
        reason,
        server: Some(r.server.clone()),
        client: client.map(ToString::to_string),
        txid: Some(r.txid.clone()),
        ..AuditEntry::default()
    };
    state.store.audit(&entry, now).await?;
    Ok(())
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

/// Expires overdue pushes every second, so a push nobody answers (and nobody polls) is still
/// denied, counted and audited on time.
pub async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
    }
}
