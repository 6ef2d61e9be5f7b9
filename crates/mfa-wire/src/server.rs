//! What a trusted server (PAM module, pam_exec script, integration) sends and gets back.

use serde::{Deserialize, Serialize};

/// `POST /v1/preauth`: may this login go ahead, and how?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PreauthRequest {
    /// The user logging in.
    pub user: String,
    /// The host logged into; the token's `--hosts` must cover it.
    pub host: String,
    /// The PAM service (`sshd`, `sudo`, `dovecot`, ...).
    pub service: String,
    /// The address the login comes from (sshd's PAM_RHOST); absent for local logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// `allow` (no second factor needed), `deny` (refused; `reason` says why), `auth` (ask for a
/// second factor: one of `methods`, or all of `required`), `enroll` (MFA is required but the
/// user has no suitable factor yet: refused, and `reason` says what to ask an admin for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PreauthResult {
    /// No second factor needed (e.g. a trusted network).
    Allow,
    /// Refused (no app for this login, locked out); `reason` says why.
    Deny,
    /// Ask for a second factor: one of `methods`, or every one of `required` when it is given.
    Auth,
    /// MFA is required but the user has no (suitable) factor yet: refused, and `reason` says
    /// how to get one (what to ask an admin for).
    Enroll,
}

/// The answer to `POST /v1/preauth` and `POST /v1/stepup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreauthResponse {
    pub result: PreauthResult,
    /// Why, with `allow`, `deny` and `enroll`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With `auth`: the methods the caller may use ("push", "totp", "password"). When
    /// `required` is absent, any one of them is enough.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// With `auth`, when the policy asks for several factors (or one in particular): every one
    /// of these, in one `POST /v1/auth` (e.g. `["totp", "password"]`: a `password` and a
    /// `passcode`). Absent: any one of `methods`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
}

/// `POST /v1/stepup`: may this user do this sensitive action now (just-in-time MFA)? The
/// answer is a [`PreauthResponse`]: `allow` (no MFA needed, or an elevated session covers it),
/// `deny`, `enroll`, or `auth`, answered with `POST /v1/auth` and the same `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StepupRequest {
    /// The user doing the action.
    pub user: String,
    /// The action's name (`deploy`, `db-write`): rules with `--action` and apps whose service
    /// names it apply.
    pub action: String,
    /// The host the action runs on, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The address the user comes from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// A password on the wire: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(format = Password))]
#[serde(transparent)]
pub struct Password(pub String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// `remember` in `POST /v1/auth`: `true` for the server's `elevated_session` seconds, or a
/// number of seconds (cut to `max_elevated_session`); `false` or 0: no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Remember {
    Default(bool),
    Seconds(#[serde(deserialize_with = "crate::whole::required")] u32),
}

/// `push`, `totp` (a `passcode`: a TOTP or recovery code), `password` (only the `password`,
/// when that is all the login needs), or `auto` (TOTP when a passcode is given, else push, or
/// nothing more when a `password` given alongside is all the login needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    Push,
    Totp,
    /// TOTP when a passcode is given, else push (or nothing more when a `password` given
    /// alongside is all the login needs).
    Auto,
    /// Only the `password` (when that is all the login needs).
    Password,
}

/// `POST /v1/auth`: ask for the second factor (or factors: all that `required` named, in one
/// request; the password is checked first, then the code, then the push is sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServerAuthRequest {
    /// The user logging in (or doing the action).
    pub user: String,
    /// Required for a login; optional with `action`.
    #[serde(default)]
    pub host: String,
    /// Required for a login; absent (empty) with `action`.
    #[serde(default)]
    pub service: String,
    /// The address the login comes from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// How to check the factor: `push`, `totp`, `password` or `auto`.
    pub method: AuthMethod,
    /// The code the person typed, for `totp` (or `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
    /// `false` when the asking service cannot show the person a number (mail logins, PAM
    /// `push_only`): the push then goes out without number matching. Absent: the server's
    /// `number_matching` setting decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_matching: Option<bool>,
    /// The client's password, when the login needs (or may use) one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
    /// A new password to replace `password` with: needed once the password has expired
    /// (`change_password: true` in the answer), allowed once it is `min_days` old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_password: Option<Password>,
    /// Remember a success as an elevated session for (user, client_ip, this login's or
    /// action's scope): later preauth/stepup calls answer `allow` until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember: Option<Remember>,
    /// Answer a step-up (`POST /v1/stepup`) for this action instead of a login (then no
    /// `service`; `host` as given to the step-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// `allow`, `deny`, or `pending` (a push is out: poll `GET /v1/auth/{txid}?wait=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    Allow,
    Deny,
    /// A push is out: poll `GET /v1/auth/{txid}?wait=N` for the decision.
    Pending,
}

/// The answer to `POST /v1/auth`: `allow`/`deny` at once for TOTP, `pending` with a txid and
/// the number to show at the login prompt for push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerAuthResponse {
    pub result: AuthResult,
    /// Why, with `deny` (and with `allow` when no factor was needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With `pending`: the push's transaction id, for `GET /v1/auth/{txid}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// Two digits the person types on their device (number matching); absent when it is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u8>,
    /// RFC 3339: when a pending push expires (and is denied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: Option<String>,
    /// Something the person should know (the password expires soon, few recovery codes left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// `true` with `deny`: the password was right but has expired; send the request again with
    /// `new_password` to change it (and log in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_password: Option<bool>,
    /// RFC 3339: with `allow`, when the elevated session `remember` asked for ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub elevated_until: Option<String>,
    /// With `pending`, when the push must be approved with a passkey: a short link
    /// (`https://mfa.example.org/d/7KQP-ZX4M`) the person opens on any device to confirm with
    /// their passkey, for prompts where no browser is (SSH, sudo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_url: Option<String>,
}

/// `GET /v1/auth/{txid}`: where a push stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthStatus {
    /// The push's transaction id.
    pub txid: String,
    /// `allow` once approved, `deny` once denied or expired, `pending` before.
    pub result: AuthResult,
    /// pending | approved | denied | expired | withdrawn
    pub state: String,
    /// Why it was denied or expired (`denied by tux`, `wrong number`, `timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339: once approved, when the elevated session `remember` asked for ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub elevated_until: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_requests_still_parse_and_new_fields_are_optional() {
        let old: ServerAuthRequest = serde_json::from_str(
            r#"{"user":"tux","host":"h","service":"sshd","method":"totp","passcode":"123456"}"#,
        )
        .unwrap();
        assert_eq!(old.password, None);
        assert_eq!(old.remember, None);
        let new: ServerAuthRequest = serde_json::from_str(
            r#"{"user":"tux","action":"deploy","method":"password","password":"pw","remember":true}"#,
        )
        .unwrap();
        assert_eq!(new.host, "");
        assert_eq!(new.action.as_deref(), Some("deploy"));
        assert_eq!(new.remember, Some(Remember::Default(true)));
        assert_eq!(format!("{:?}", new.password), "Some(Password(***))");
        let secs: ServerAuthRequest = serde_json::from_str(
            r#"{"user":"tux","host":"h","service":"s","method":"auto","remember":600}"#,
        )
        .unwrap();
        assert_eq!(secs.remember, Some(Remember::Seconds(600)));
        assert!(
            serde_json::from_str::<StepupRequest>(r#"{"user":"tux","action":"a","extra":1}"#)
                .is_err()
        );
    }

    #[test]
    fn answers_leave_out_what_they_do_not_have() {
        let pre = PreauthResponse {
            result: PreauthResult::Auth,
            reason: None,
            methods: vec!["push".into(), "totp".into()],
            required: vec![],
        };
        assert_eq!(
            serde_json::to_string(&pre).unwrap(),
            r#"{"result":"auth","methods":["push","totp"]}"#
        );
        let enroll: PreauthResponse =
            serde_json::from_str(r#"{"result":"enroll","reason":"ask"}"#).unwrap();
        assert_eq!(enroll.result, PreauthResult::Enroll);
    }
}
