//! What mfa-duo's BSON encoder writes, read back by the maintained `bson` crate (mongodb's).

use mfa_duo::answer::{fail_bson, ok_bson, ok_bson_str};
use mfa_duo::bson::{Document, Value};

#[test]
fn legacy_answers_decode_with_the_bson_crate() {
    let response = Document::new()
        .with("result", "auth")
        .with(
            "status",
            "Push with number 42 will be sent. Passcode, or press Enter for push:",
        )
        .with(
            "factors",
            Document::new().with("default", "push1").with("1", "push1"),
        )
        .with("count", 7_i64)
        .with("enrolled", true)
        .with("nothing", Value::Null)
        .with(
            "devices",
            Value::Array(vec![
                "phone1".into(),
                Value::Int32(-3),
                "ünïcødé\0nul".into(),
            ]),
        );
    let bytes = ok_bson(response).unwrap();
    let doc = bson::Document::from_reader(&mut bytes.as_slice()).unwrap();
    assert_eq!(doc.get_str("stat").unwrap(), "OK");
    let r = doc.get_document("response").unwrap();
    assert_eq!(r.get_str("result").unwrap(), "auth");
    assert_eq!(
        r.get_document("factors")
            .unwrap()
            .get_str("default")
            .unwrap(),
        "push1"
    );
    assert_eq!(r.get_i64("count").unwrap(), 7);
    assert!(r.get_bool("enrolled").unwrap());
    assert_eq!(r.get("nothing"), Some(&bson::Bson::Null));
    let devices = r.get_array("devices").unwrap();
    assert_eq!(devices.len(), 3);
    assert_eq!(devices[0].as_str(), Some("phone1"));
    assert_eq!(devices[1].as_i32(), Some(-3));
    assert_eq!(devices[2].as_str(), Some("ünïcødé\0nul"));
    // Names in order, as written.
    let keys: Vec<&str> = r.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "result", "status", "factors", "count", "enrolled", "nothing", "devices"
        ]
    );

    let fail = fail_bson(40103, "Invalid signature").unwrap();
    let doc = bson::Document::from_reader(&mut fail.as_slice()).unwrap();
    assert_eq!(doc.get_str("stat").unwrap(), "FAIL");
    // duo_unix 1.x reads code only as int32.
    assert_eq!(doc.get_i32("code").unwrap(), 40103);
    assert_eq!(doc.get_str("message").unwrap(), "Invalid signature");

    let pong = ok_bson_str("pong").unwrap();
    let doc = bson::Document::from_reader(&mut pong.as_slice()).unwrap();
    assert_eq!(doc.get_str("response").unwrap(), "pong");
}
