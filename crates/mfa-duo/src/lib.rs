//! Duo Auth API compatibility, the pure part (issue 14): what mfad needs to let Duo's own
//! clients (duo_unix 1.x `/rest/v1/*.bson`, duo_unix 2.x and duo_client on `/auth/v2`) talk to
//! it. No I/O: the HTTP handlers and the store live elsewhere.
//!
//! - [`params`]: form decoding and Duo's re-encoding of the decoded pairs.
//! - [`sign`]: canonical strings of sig versions 1, 2, 4, 5 and their HMACs.
//! - [`verify()`]: `Authorization: Basic base64(ikey:hex)`, date and skew, constant-time check.
//! - [`answer`] and [`bson`]: the JSON and BSON answer envelopes.
//! - [`credentials`]: ikey/skey generation.
//! - [`reply`]: what each endpoint answers, in either dialect, and how a prompt answer reads.

pub mod answer;
pub mod bson;
pub mod credentials;
pub mod params;
pub mod reply;
pub mod sign;
mod verify;

pub use credentials::{Ikey, Skey};
pub use params::{FormError, Params};
pub use sign::{CanonicalInput, ParamOrder, SigDigest, SigVersion};
pub use verify::{
    Authorization, BodyKind, Dialect, DuoAuthError, MAX_SKEW, SignedRequest, Verified,
    host_candidates, parse_authorization, parse_date, verify,
};
