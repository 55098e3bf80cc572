// Package users maps the external users of incoming messages to the portal's internal users (PROTOCOL.md
// §5.1 step 3).
//
// A Syncer keys each external user as "<connector>|<user.id>", computes the md5 of a canonical serialization
// of every field the user carries (ExternalUser.CanonicalJSON: keys sorted, empty values left out, so key
// order and absent-versus-empty do not matter), and compares it with the stored one: no record → create,
// a different hash → update, the same → nothing written. An in-process cache of hashes makes an unchanged,
// recently seen user cost no database access at all. The user's picture can be imported through the files
// package and kept as the user's photo.
//
// Store has an SQL implementation (SQLite and MySQL; a unique index on the external key, so concurrent creates
// of one user make one row) and an in-memory one for tests.
package users
