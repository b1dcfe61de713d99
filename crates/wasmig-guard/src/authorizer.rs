//! SQLite's second layer (to be filled in).
