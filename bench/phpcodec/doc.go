// Package phpcodec holds the baseline of the wire codec's benchmarks: github.com/elliotchance/phpserialize,
// the maintained Go codec of PHP's serialize format, decoding and encoding the 10-item receivingMessage DATA
// of package wire's BenchmarkDecode10Items, beside wire's exported Unserialize and SerializeStubbed on the
// same bytes in the same process. The comparisons are rows of make bench.
//
// It lives in the bench module so that elliotchance/phpserialize is no dependency of the SDK.
package phpcodec
