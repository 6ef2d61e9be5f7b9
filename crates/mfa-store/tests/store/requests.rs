use mfa_core::{Alias, Timestamp};
use mfa_secrets::Token;
use mfa_store::{ApproveLink, AuthRequest, RequestState};

use crate::support::backends;

fn alias(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

pub fn request(txid: &str, clients: &[&str], now: Timestamp) -> AuthRequest {
    AuthRequest {
        txid: txid.to_owned(),
        user: "tux".into(),
        host: "linux.example.org".into(),
        service: "sshd".into(),
        client_ip: Some("192.0.2.10".into()),
        server: "ssh-1".into(),
        app_id: 1,
        clients: clients.iter().map(|c| alias(c)).collect(),
        number: Some(42),
        state: RequestState::Pending,
        reason: None,
        decided_by: None,
        created_at: now,
        expires_at: now.plus_secs(30),
        decided_at: None,
        factors: None,
        remember: None,
    }
}

pub fn links(clients: &[&str]) -> Vec<ApproveLink> {
    clients
        .iter()
        .map(|c| ApproveLink {
            token_hash: Token::generate("mfaa").unwrap().hash(),
            client: alias(c),
        })
        .collect()
}

/// `_` is legal in aliases and a LIKE wildcard, and SQLite's LIKE ignores case: a client is
/// shown exactly the pushes sent to it, never another alias's that merely looks alike.
#[tokio::test]
async fn pending_requests_match_the_alias_exactly() {
    let now = Timestamp::from_secs(1_800_000_000);
    for db in backends().await {
        let s = &db.store;
        for (txid, clients) in [("t1", &["tux"][..]), ("t2", &["tux", "alice"][..])] {
            s.create_request(&request(txid, clients, now), &links(clients))
                .await
                .unwrap();
        }
        for lookalike in ["t_x", "tu_", "TUX", "Tux", "tux_phone"] {
            let seen = s
                .pending_requests_for(&alias(lookalike), now)
                .await
                .unwrap();
            assert!(
                seen.is_empty(),
                "{}: {lookalike} sees {:?}",
                db.name,
                seen.iter().map(|r| &r.txid).collect::<Vec<_>>()
            );
        }
        let tux: Vec<String> = s
            .pending_requests_for(&alias("tux"), now)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.txid)
            .collect();
        assert_eq!(tux, ["t1", "t2"], "{}", db.name);
        let alice = s.pending_requests_for(&alias("alice"), now).await.unwrap();
        assert_eq!(alice.len(), 1, "{}", db.name);
        db.finish().await;
    }
}
