//! mfa-otp
