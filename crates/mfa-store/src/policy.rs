//! What the policy decision needs from the database, gathered in one place so mfad and
//! `mfac policy check` decide from the very same inputs.

use mfa_core::policy::{Enrolment, Request, Routed, Rule, SessionView, UserState};
use mfa_core::{Timestamp, best_route};

use crate::{App, Store, StoreError};

/// The rules and the user's state for one request (`locked` is left for the caller, which
/// knows the lockout settings).
#[derive(Debug, Clone)]
pub struct PolicyInputs {
    pub rules: Vec<Rule>,
    pub user: UserState,
    /// The app the request routes to, if any (its clients hold the factors).
    pub route: Option<App>,
}

impl Store {
    pub async fn policy_inputs(
        &self,
        req: &Request,
        client_ip: Option<&str>,
        now: Timestamp,
    ) -> Result<PolicyInputs, StoreError> {
        let rules = self.policy_rules().await?;
        let bypass = self.user(&req.user).await?.is_some_and(|u| u.bypass);
        let groups = self.groups_of(&req.user).await?;
        let apps = self.apps_for_user(&req.user).await?;
        let route = best_route(
            &apps,
            &req.user,
            req.host.as_deref().unwrap_or(""),
            req.service_or_action(),
        )
        .cloned();
        let enrolment = match &route {
            None if apps.is_empty() => Enrolment::NoApps,
            None => Enrolment::NoRoute,
            Some(app) => Enrolment::Routed(Routed {
                app_id: app.id,
                methods: app.methods.clone(),
                clients: app.clients.clone(),
                has_password: !self.clients_with_password(&app.clients).await?.is_empty(),
                has_passkey: self.any_has_passkey(&app.clients).await?,
            }),
        };
        let sessions = self
            .sessions_for(&req.user, client_ip, &req.scope(), now)
            .await?
            .into_iter()
            .map(|s| SessionView {
                id: s.id,
                factors: s.factors.iter().collect(),
                expires_at: s.expires_at,
            })
            .collect();
        Ok(PolicyInputs {
            rules,
            user: UserState {
                locked: None,
                bypass,
                groups,
                enrolment,
                sessions,
            },
            route,
        })
    }
}
