// Package queue holds the baseline of the connector server's queue benchmark (BenchmarkQueue of package
// connector): goqite, a SQL message queue, doing send → receive → delete of the same item bodies, with the
// same number of producers, on a SQLite database opened the same way (sqldb.Open). The comparison of the
// two is a row of make bench.
//
// It lives in the bench module so that goqite is no dependency of the SDK.
package queue
