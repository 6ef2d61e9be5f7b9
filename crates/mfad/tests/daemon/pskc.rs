//! `mfac import pskc` with containers from real peers: RFC 6030's Figure 2 as Debian's
//! libpskc-dev ships it, and files Debian's python3-pskc writes encrypted with a pre-shared
//! key. The imported credentials then verify codes oathtool computes, through mfad.

use std::path::{Path, PathBuf};
use std::process::Command;

use mfa_testkit::Install;
use serde_json::{Value, json};

/// "12345678901234567890", the secret of RFC 6030's examples (and RFC 4226's test vectors).
const SECRET_HEX: &str = "3132333435363738393031323334353637383930";
const PSK: &str = "12345678901234567890123456789012";

/// RFC 6030 Figure 2, from Debian's libpskc-dev (scripts/test.sh unpacks it under target/).
fn figure2() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/pskc-peers/usr/share/doc/libpskc-dev/examples/pskc-hotp.xml");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test.sh (it unpacks Debian's libpskc-dev there)",
        path.display()
    );
    path
}

/// A container written by Debian's python3-pskc, encrypted with `PSK`: an 8-digit HOTP key
/// (serial 123456) and a 6-digit TOTP key (serial 654321).
fn python_pskc_file(dir: &Path, totp_only: bool) -> PathBuf {
    let out = dir.join(if totp_only {
        "totp.pskcxml"
    } else {
        "both.pskcxml"
    });
    let hotp = if totp_only {
        ""
    } else {
        "p.add_key(id='k-hotp', serial='123456', secret=s, counter=0, \
         algorithm='urn:ietf:params:xml:ns:keyprov:pskc:hotp', response_length=8)\n"
    };
    let script = format!(
        "import pskc\np = pskc.PSKC()\ns = bytes.fromhex('{SECRET_HEX}')\n{hotp}\
         p.add_key(id='k-totp', serial='654321', secret=s, \
         algorithm='urn:ietf:params:xml:ns:keyprov:pskc:totp', response_length=6, time_interval=30)\n\
         p.encryption.setup_preshared_key(key=bytes.fromhex('{PSK}'), key_name='Pre-shared-key')\n\
         p.write('{}')\n",
        out.display()
    );
    // Debian's interpreter (its python3-pskc), whatever python3 is first on PATH.
    let status = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .status()
        .expect("/usr/bin/python3");
    assert!(
        status.success(),
        "python3-pskc: run scripts/test.sh (apt-get install python3-pskc)"
    );
    out
}

fn oathtool(args: &[&str]) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .arg(SECRET_HEX)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn verify(base: &str, token: &str, id: &str, code: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/v1/otp/credentials/{id}/verify"))
        .bearer_auth(token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn fails(install: &Install, args: &[&str]) -> String {
    let out = install.mfac_output(args);
    assert!(!out.status.success(), "mfac {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn pskc_containers_from_the_rfc_and_python_pskc_become_credentials_that_verify() {
    let install = Install::new("");
    let token = install.mfac_field(&["token", "add", "tokens", "--scope", "otp"], "api_token");
    let dir = install.dir.path();

    // RFC 6030 Figure 2: plain, HOTP, 8 digits, counter 0.
    let fig2 = figure2();
    let answer = install.mfac_json(&["import", "pskc", fig2.to_str().unwrap()]);
    let key = &answer[0];
    assert_eq!(
        (key["kind"].as_str(), key["digits"].as_u64()),
        (Some("hotp"), Some(8)),
        "{answer}"
    );
    assert_eq!(key["serial"], "987654321");
    let fig2_id = key["credential_id"].as_str().unwrap().to_owned();

    // python3-pskc, with a pre-shared key: refused without it or with a wrong one.
    let both = python_pskc_file(dir, false);
    let both = both.to_str().unwrap();
    assert!(fails(&install, &["import", "pskc", both]).contains("--key"));
    let wrong = fails(
        &install,
        &["import", "pskc", both, "--key", &"ab".repeat(16)],
    );
    assert!(wrong.contains("does not match"), "{wrong}");
    assert!(
        !wrong.contains(&"ab".repeat(16)),
        "the key is never shown: {wrong}"
    );
    let answer = install.mfac_json(&["import", "pskc", both, "--key", PSK]);
    let kinds: Vec<&str> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hotp", "totp"], "{answer}");
    let (hotp_id, totp_id) = (
        answer[0]["credential_id"].as_str().unwrap().to_owned(),
        answer[1]["credential_id"].as_str().unwrap().to_owned(),
    );

    let daemon = install.start();
    let hotp0 = oathtool(&["--hotp", "-d", "8", "-c", "0"]);
    for id in [&fig2_id, &hotp_id] {
        let v = verify(&daemon.base, &token, id, &hotp0).await;
        assert_eq!(v["ok"], true, "{id}: {v}");
        let again = verify(&daemon.base, &token, id, &hotp0).await;
        assert_eq!(again["ok"], false, "{id}: a code works once: {again}");
    }
    let v = verify(&daemon.base, &token, &totp_id, &oathtool(&["--totp"])).await;
    assert_eq!(v["ok"], true, "{v}");
    daemon.stop();

    // --client: the one TOTP key becomes a client's seed (HOTP would be refused).
    let hotp_for_client = fails(
        &install,
        &["import", "pskc", both, "--key", PSK, "--client", "tux"],
    );
    assert!(hotp_for_client.contains("one key"), "{hotp_for_client}");
    let totp = python_pskc_file(dir, true);
    let answer = install.mfac_json(&[
        "import",
        "pskc",
        totp.to_str().unwrap(),
        "--key",
        PSK,
        "--client",
        "tux",
    ]);
    assert_eq!(answer[0]["client"], "tux", "{answer}");
    assert!(
        answer[0]["client_key"]
            .as_str()
            .unwrap()
            .starts_with("mfak_")
    );
    install.mfac(&[
        "app",
        "add",
        "--user",
        "tux",
        "--host",
        "*",
        "--service",
        "*",
        "--client",
        "tux",
        "--methods",
        "totp",
    ]);
    let server = install.mfac_field(&["server", "add", "pam-host", "--hosts", "*"], "api_token");
    let daemon = install.start();
    let v = crate::totp_login(&daemon.base, &server, "tux", &oathtool(&["--totp"])).await;
    assert_eq!(v["result"], "allow", "the token's code logs tux in: {v}");
}
