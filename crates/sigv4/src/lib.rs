//! AWS Signature Version 4 verification for the server side.
